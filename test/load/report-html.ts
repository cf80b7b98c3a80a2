/** The run's HTML report: one self-contained file, charts as inline SVG (1-second buckets). */
import { describeScenario, type LoadReport, renderTable } from "./report.js";
import { escapeXml, lineChart, type Series } from "./svg-chart.js";

const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#bcbd22",
  "#7f7f7f",
  "#393b79",
  "#637939",
];

export const renderHtml = (r: LoadReport): string => {
  const t = r.timeline;
  const band = { from: r.window.start, to: r.window.end, label: "measured window" };
  const hasCloud = r.sent.cloud > 0;
  const throughput: Series[] = [
    { name: "all writes", color: "#333", values: t.device.map((d, i) => d + (t.cloud[i] ?? 0)) },
    { name: "device", color: COLORS[0] as string, values: t.device },
    ...(hasCloud ? [{ name: "cloud", color: COLORS[1] as string, values: t.cloud }] : []),
  ];
  const pick = (rows: typeof t.deviceLatency, p: "p50" | "p95" | "p99") =>
    rows.map((row) => row[p]);
  const latency: Series[] = [
    { name: "device p50", color: COLORS[0] as string, values: pick(t.deviceLatency, "p50") },
    { name: "device p95", color: COLORS[2] as string, values: pick(t.deviceLatency, "p95") },
    { name: "device p99", color: COLORS[1] as string, values: pick(t.deviceLatency, "p99") },
    ...(hasCloud
      ? [
          {
            name: "cloud p50",
            color: COLORS[0] as string,
            dashed: true,
            values: pick(t.cloudLatency, "p50"),
          },
          {
            name: "cloud p99",
            color: COLORS[1] as string,
            dashed: true,
            values: pick(t.cloudLatency, "p99"),
          },
        ]
      : []),
  ];
  const charts = [
    lineChart({
      id: "throughput",
      title: "Throughput: writes answered per second",
      unit: "writes/s",
      series: throughput,
      band,
    }),
    lineChart({ id: "latency", title: "Latency per second", unit: "ms", series: latency, band }),
    lineChart({
      id: "connected",
      title: "Connected devices",
      unit: "devices",
      series: [{ name: "connected", color: COLORS[3] as string, values: t.connected }],
      band,
    }),
  ];
  if (t.cpu.length > 0)
    charts.push(
      lineChart({
        id: "cpu",
        title: "CPU per process",
        unit: "% of one core",
        series: t.cpu.map((c, i) => ({
          name: c.name,
          color: COLORS[i % COLORS.length] as string,
          values: c.percent,
        })),
        band,
      }),
    );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Umbra load run ${escapeXml(r.scenario.name)} — ${escapeXml(r.startedAt)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
h1 { font-size: 20px; } pre { background: #f6f6f6; padding: 12px; white-space: pre-wrap; font-size: 12px; }
.ok { color: #2ca02c; } .failed { color: #d62728; }
svg { display: block; margin: 16px 0; background: #fff; border: 1px solid #ddd; max-width: 100%; height: auto; }
svg .title { font: bold 13px system-ui, sans-serif; } svg .axis { font: 11px system-ui, sans-serif; fill: #555; }
svg .note { font: 11px system-ui, sans-serif; fill: #777; } svg .grid { stroke: #eee; } svg .band { fill: #f0f5ff; }
</style>
</head>
<body>
<h1>Umbra load run: ${escapeXml(r.scenario.name)} <span class="${r.ok ? "ok" : "failed"}">${r.ok ? "OK" : "FAILED"}</span></h1>
<p>${escapeXml(describeScenario(r))}. Started ${escapeXml(r.startedAt)} on ${escapeXml(r.machine.model)}
(load average ${r.machine.loadAverage.map((l) => l.toFixed(2)).join(", ")} at the start,
${r.machine.loadAverageAfter.map((l) => l.toFixed(2)).join(", ")} at the end).</p>
<pre>${escapeXml(renderTable(r))}</pre>
${charts.join("\n")}
<h2>Scenario</h2>
<pre>${escapeXml(JSON.stringify(r.scenario, null, 2))}</pre>
</body>
</html>
`;
};

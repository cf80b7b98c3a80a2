/** A finished load run's figures, and the table printed at its end. */
import type { CpuSeries } from "./cpu.js";
import type { Scenario } from "./scenario.js";
import type { Percentiles, Timeline } from "./stats.js";

export interface KindFigures {
  /** Answered in the measured window, per second of it. */
  readonly perSecond: number;
  readonly answered: number;
  readonly latencyMs: Percentiles;
}

export interface ErrorCounts {
  readonly connectFailures: number;
  readonly disconnects: number;
  readonly rejected: number;
  readonly lost: number;
  readonly unexpected: number;
  readonly outOfOrder: number;
  readonly versionMismatches: number;
  /** Services that exited during the run. */
  readonly died: number;
}

export interface LoadReport {
  readonly scenario: Scenario;
  readonly runtime: "local" | "containers";
  readonly startedAt: string;
  readonly machine: {
    readonly cpus: number;
    readonly model: string;
    /** 1, 5 and 15-minute load averages when the run started and when it ended. */
    readonly loadAverage: number[];
    readonly loadAverageAfter: number[];
  };
  /** Seconds, from the load's start: the whole run, and the measured window within it. */
  readonly seconds: number;
  readonly window: { readonly start: number; readonly end: number };
  readonly connected: number;
  readonly sent: { readonly device: number; readonly cloud: number };
  readonly device: KindFigures;
  readonly cloud: KindFigures;
  readonly all: KindFigures;
  readonly connectLatencyMs: Percentiles;
  readonly errors: ErrorCounts & { readonly total: number };
  readonly problems: readonly string[];
  readonly shadowsChecked: number;
  /** Summed over the shards' /metrics; null: not exposed (n/a). */
  readonly casConflicts: number | null;
  readonly casRetries: number | null;
  /** Mean percent of one core over the measured window, per local process. */
  readonly cpu: readonly { readonly name: string; readonly percent: number }[];
  readonly timeline: Timeline & { readonly cpu: readonly CpuSeries[] };
  readonly ok: boolean;
}

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
const grouped = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const orNa = (n: number | null) => (n === null ? "n/a" : grouped(n));

/**
 * CPU time the cluster spent per write answered in the window, in µs: every sampled
 * process but the load generator itself (services, NATS, Redis, and for containers the
 * docker-proxy of each port the load crosses). NaN when nothing was sampled.
 */
export const cpuPerWriteUs = (r: Pick<LoadReport, "cpu" | "all">): number => {
  const cluster = r.cpu.filter((c) => c.name !== "load" && Number.isFinite(c.percent));
  if (cluster.length === 0 || !(r.all.perSecond > 0)) return Number.NaN;
  const coreSecondsPerSecond = cluster.reduce((sum, c) => sum + c.percent, 0) / 100;
  return (coreSecondsPerSecond / r.all.perSecond) * 1e6;
};

/** Right-aligned columns after a left-aligned first one. */
const columns = (rows: readonly (readonly string[])[]): string => {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((row) =>
      row
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
};

export const describeScenario = (r: LoadReport): string => {
  const s = r.scenario;
  return (
    `${s.name}: ${grouped(s.devices)} devices (${grouped(r.connected)} connected at the end), ` +
    `${s.updateRate}/s each, ${Math.round(s.cloudShare * 100)} % cloud writes, QoS ${s.qos}, ` +
    `${s.durationSeconds} s measured; ${s.edges} edge(s), ${s.shards} shard(s), ` +
    `${s.loadThreads} load thread(s); ${r.runtime === "local" ? "local processes" : "containers"}, ` +
    `${r.machine.cpus} CPUs`
  );
};

/** The end-of-run table. */
export const renderTable = (r: LoadReport): string => {
  const row = (name: string, sent: number | null, k: KindFigures) => [
    name,
    sent === null ? "" : grouped(sent),
    grouped(k.answered),
    fixed(k.perSecond, 1),
    fixed(k.latencyMs.p50, 2),
    fixed(k.latencyMs.p95, 2),
    fixed(k.latencyMs.p99, 2),
    fixed(k.latencyMs.max, 2),
  ];
  const e = r.errors;
  const lines = [
    describeScenario(r),
    "",
    columns([
      ["writes", "sent", "answered*", "per s*", "p50 ms*", "p95 ms*", "p99 ms*", "max ms*"],
      row("device (MQTT)", r.sent.device, r.device),
      row("cloud (API)", r.sent.cloud, r.cloud),
      row("all", r.sent.device + r.sent.cloud, r.all),
      [
        "connect",
        "",
        grouped(r.connected),
        "",
        fixed(r.connectLatencyMs.p50, 2),
        fixed(r.connectLatencyMs.p95, 2),
        fixed(r.connectLatencyMs.p99, 2),
        fixed(r.connectLatencyMs.max, 2),
      ],
    ]),
    "* in the measured window. Device: publish → update/accepted; cloud: PATCH → the device's delta; connect: CONNECT → SUBACK.",
    "",
    `errors: ${e.total} — lost ${e.lost}, rejected ${e.rejected}, connect failures ${e.connectFailures}, ` +
      `disconnects ${e.disconnects}, out of order ${e.outOfOrder}, unexpected ${e.unexpected}, ` +
      `version mismatches ${e.versionMismatches} (of ${grouped(r.shadowsChecked)} shadows read back), ` +
      `services died ${e.died}`,
    `CAS conflicts: ${orNa(r.casConflicts)} (retries ${orNa(r.casRetries)})`,
    `machine load (1-minute average): ${fixed(r.machine.loadAverage[0] ?? Number.NaN, 2)} at the start, ` +
      `${fixed(r.machine.loadAverageAfter[0] ?? Number.NaN, 2)} at the end`,
  ];
  if (r.cpu.length > 0)
    lines.push(
      `CPU, % of one core (window mean): ${r.cpu.map((c) => `${c.name} ${fixed(c.percent, 0)}`).join(", ")}`,
      `CPU per write: ${fixed(cpuPerWriteUs(r), 0)} µs (every process but the load generator)`,
    );
  for (const problem of r.problems.slice(0, 5)) lines.push(`  ${problem}`);
  lines.push(r.ok ? "result: OK" : "result: FAILED");
  return lines.join("\n");
};

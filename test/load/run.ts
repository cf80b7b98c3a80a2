/**
 * One load run: brings the cluster up, registers and connects the scenario's devices at
 * its pace, measures the window, drains, reads every shadow back, scrapes the shards'
 * CAS counters and stops the cluster. The CLI (main.ts) and the CI test both call it.
 */
import { cpus, loadavg } from "node:os";
import { type LoadCluster, startLoadCluster } from "./cluster.js";
import { CpuSampler, meanPercent } from "./cpu.js";
import { scrapeSum } from "./metrics.js";
import { type Phase, type Progress, type ProgressState, progressReporter } from "./progress.js";
import type { FleetSpec } from "./protocol.js";
import type { ErrorCounts, KindFigures, LoadReport } from "./report.js";
import type { Scenario } from "./scenario.js";
import { RunStats, type WriteKind } from "./stats.js";
import { LoadThreads } from "./threads.js";

/** The product every simulated device belongs to. */
export const PRODUCT = "load";
const TICK_MS = 250;

export interface RunOptions {
  readonly progress?: Progress;
}

/** Runs the scenario against a cluster of its own; the cluster is stopped either way. */
export const runLoad = async (
  scenario: Scenario,
  options: RunOptions = {},
): Promise<LoadReport> => {
  const progress = options.progress ?? progressReporter();
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg();
  progress.update(idle(scenario, "starting"));
  const cluster = await startLoadCluster(scenario, (line) => progress.log(line));
  try {
    await createProduct(cluster.apiUrl);
    return await drive(scenario, cluster, progress, { startedAt, loadAverage });
  } catch (error) {
    if (cluster.died().length > 0) progress.log(cluster.logs());
    throw error;
  } finally {
    progress.done();
    await cluster.stop();
  }
};

const idle = (s: Scenario, phase: Phase): ProgressState => ({
  phase,
  elapsedS: 0,
  devices: s.devices,
  registered: 0,
  connected: 0,
  perSecond: 0,
  errors: 0,
  windowS: 0,
  durationS: s.durationSeconds,
});

const createProduct = async (apiUrl: string): Promise<void> => {
  const res = await fetch(`${apiUrl}/v1/products`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: PRODUCT }),
  });
  const body = await res.text();
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`creating product '${PRODUCT}': HTTP ${res.status} ${body}`);
};

/** Splits the devices and the connect rate over the load threads. */
const fleetSpecs = (s: Scenario, cluster: LoadCluster): FleetSpec[] => {
  let first = 0;
  return Array.from({ length: s.loadThreads }, (_, thread) => {
    const count =
      Math.floor(s.devices / s.loadThreads) + (thread < s.devices % s.loadThreads ? 1 : 0);
    const spec: FleetSpec = {
      thread,
      product: PRODUCT,
      first,
      count,
      mqttUrls: cluster.mqttUrls,
      apiUrl: cluster.apiUrl,
      qos: s.qos,
      connectRate: (s.connectRate * count) / s.devices,
      updateRate: s.updateRate,
      cloudShare: s.cloudShare,
      drainMs: s.drainSeconds * 1000,
      tickMs: TICK_MS,
    };
    first += count;
    return spec;
  });
};

const drive = async (
  s: Scenario,
  cluster: LoadCluster,
  progress: Progress,
  meta: { startedAt: string; loadAverage: number[] },
): Promise<LoadReport> => {
  const origin = Date.now();
  const stats = new RunStats(origin);
  const cpu = new CpuSampler([...cluster.processes, { name: "load", pid: process.pid }], origin);
  const problems: string[] = [];
  let phase: Phase = "registering";
  const threads = new LoadThreads(fleetSpecs(s, cluster), (records, found) => {
    stats.add(records);
    for (const p of found) if (problems.length < 20) problems.push(p);
  });
  const state = (): ProgressState => {
    const c = threads.totals();
    const now = Date.now();
    const window = stats.windowSeconds();
    return {
      phase,
      elapsedS: (now - origin) / 1000,
      devices: s.devices,
      registered: c.registered,
      connected: c.connected,
      perSecond: stats.lastSecond(now),
      errors: c.rejected + c.connectFailures + c.disconnects,
      windowS: Number.isFinite(window.start)
        ? Math.min(s.durationSeconds, (now - origin) / 1000 - window.start)
        : 0,
      durationS: s.durationSeconds,
    };
  };
  const drawer = setInterval(() => {
    stats.connectedNow(Date.now(), threads.totals().connected);
    progress.update(state());
  }, TICK_MS);

  try {
    // Registration (through the API) and connections at the scenario's pace: generous
    // deadlines, since a loaded machine may be slower than the pace asked for.
    await threads.until(
      () => threads.totals().registered >= s.devices,
      60_000 + s.devices * 20,
      "registering the devices",
    );
    phase = "connecting";
    const attempted = () => {
      const c = threads.totals();
      return c.connected + c.connectFailures + c.disconnects >= s.devices;
    };
    await threads.until(
      attempted,
      60_000 + ((s.devices / s.connectRate) * 2 + s.devices / 100) * 1000,
      `connecting ${s.devices} devices`,
    );

    phase = "measuring";
    stats.openWindow(Date.now(), s.durationSeconds);
    // The window is a length of time to measure, not a wait for an event; a thread
    // failing ends it early with the failure.
    await threads.runFor(s.durationSeconds * 1000);

    phase = "draining";
    const outcomes = await threads.finish(s.drainSeconds * 1000 + 120_000 + s.devices * 20);
    clearInterval(drawer);
    progress.update(state());
    const cpuSeries = cpu.stop();
    const [casConflicts, casRetries] = await Promise.all([
      scrapeSum(cluster.shardMetricsUrls, "umbra_shard_cas_conflicts_total"),
      scrapeSum(cluster.shardMetricsUrls, "umbra_shard_cas_retries_total"),
    ]);
    const died = cluster.died();
    for (const d of died) problems.unshift(d);

    const window = stats.windowSeconds();
    const figures = (kind: WriteKind | "all"): KindFigures => {
      const answered =
        kind === "all"
          ? stats.windowCount("device") + stats.windowCount("cloud")
          : stats.windowCount(kind);
      return {
        answered,
        perSecond: answered / s.durationSeconds,
        latencyMs: stats.windowLatency(kind),
      };
    };
    const sum = (pick: (o: (typeof outcomes)[number]) => number) =>
      outcomes.reduce((n, o) => n + pick(o), 0);
    const errors: ErrorCounts = {
      connectFailures: sum((o) => o.counters.connectFailures),
      disconnects: sum((o) => o.counters.disconnects),
      rejected: sum((o) => o.counters.rejected),
      lost: sum((o) => o.lost),
      unexpected: sum((o) => o.unexpected),
      outOfOrder: sum((o) => o.outOfOrder),
      versionMismatches: sum((o) => o.versionMismatches),
      died: died.length,
    };
    for (const o of outcomes) if (o.firstMismatch !== null) problems.push(o.firstMismatch);
    const total = Object.values(errors).reduce((a, b) => a + b, 0);
    const all = figures("all");
    return {
      scenario: s,
      runtime: cluster.runtime,
      startedAt: meta.startedAt,
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? "unknown",
        loadAverage: meta.loadAverage,
        loadAverageAfter: loadavg(),
      },
      seconds: (Date.now() - origin) / 1000,
      window,
      connected: sum((o) => o.counters.connected),
      sent: { device: sum((o) => o.counters.sentDevice), cloud: sum((o) => o.counters.sentCloud) },
      device: figures("device"),
      cloud: figures("cloud"),
      all,
      connectLatencyMs: stats.connectLatency(),
      errors: { ...errors, total },
      problems,
      shadowsChecked: sum((o) => o.checked),
      casConflicts,
      casRetries,
      cpu: cpuSeries.map((c) => ({
        name: c.name,
        percent: meanPercent(c.percent, window.start, window.end),
      })),
      timeline: { ...stats.timeline(), cpu: cpuSeries },
      ok: total === 0 && all.answered > 0,
    };
  } finally {
    clearInterval(drawer);
    cpu.stop();
    await threads.terminate();
  }
};

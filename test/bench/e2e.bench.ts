/**
 * `npm run bench:e2e`: device round trips through Umbra, next to the same load on a bare
 * Mosquitto, with the same mqtt.js clients, payload and N devices × K messages in flight.
 *
 *   Mosquitto: device i publishes on bench/{i} and is subscribed to it; a round trip is
 *     publish → receipt of that message.
 *   Umbra: device d{i} of product `bench` publishes $sys/bench/d{i}/image/update; a round
 *     trip is publish → receipt of image/update/accepted (rejected answers fail the run).
 *
 * Flags (or BENCH_* environment variables): --only=mosquitto|umbra, --devices=100,
 * --inflight=10, --seconds=10, --warmup=2, --qos=0|1, --workers=1 (load threads),
 * --all (every service in one `umbra all` process instead of edge, shard and reply as
 * the separate processes production runs; --separate is the default and kept as a flag),
 * --shards=N (that many shard processes forming a cluster; not with --all),
 * --rebalance (half-way through the window one more shard joins: prints the throughput
 * dip and how long it lasted), --rounds=N (alternate the two runs N times; the ratio is
 * the median of the rounds'), --api (instead: applications PATCH desired state over the
 * HTTP API and each device waits for its delta; --inflight is per device, default 2),
 * --dialect=onenet|aws|azure (the topics Umbra's devices speak: OneNET's image update,
 * the default; AWS's `$aws/things/d{i}/shadow/update`, a round trip ending at its
 * `update/accepted`; or Azure IoT Hub's twin, a reported patch on
 * `$iothub/twin/PATCH/properties/reported/?$rid={n}` ending at its
 * `$iothub/twin/res/204/?$rid={n}&$version={v}`, with the username azure-iot-device sends,
 * `bench.azure-devices.net/d{i}/?api-version=…`. The Mosquitto run sends the same body).
 * BENCH_PROFILE_DIR=dir makes every Umbra process write a CPU profile (`node --cpu-prof`).
 * Progress goes to stderr; the table and, last, one JSON line go to stdout.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import {
  isSettled,
  pollUntil,
  readCluster,
  type Server,
  type ServiceProcess,
  startMosquitto,
  startNats,
  startRedis,
  startService,
  withDeadline,
} from "../src/harness.js";
import { runApiLoad } from "./api-load.js";
import {
  type BenchDialect,
  type LoadResult,
  type LoadSpec,
  payloadFor,
  type Target,
  TIMELINE_BUCKET_MS,
} from "./load.js";
import type { WorkerReport } from "./load.worker.js";

interface Settings {
  readonly targets: readonly Target[];
  readonly devices: number;
  readonly inflight: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly qos: 0 | 1;
  readonly workers: number;
  readonly separate: boolean;
  readonly shards: number;
  readonly rebalance: boolean;
  readonly api: boolean;
  readonly rounds: number;
  readonly dialect: BenchDialect;
}

const USAGE = `Usage: npm run bench:e2e -- [--only=mosquitto|umbra] [--devices=N] [--inflight=K]
       [--seconds=D] [--warmup=W] [--qos=0|1] [--workers=T] [--all|--separate] [--shards=N]
       [--rebalance] [--rounds=N] [--api] [--dialect=onenet|aws|azure]`;

class UsageError extends Error {}

const settingsFrom = (argv: string[]): Settings => {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: "string" },
      devices: { type: "string" },
      inflight: { type: "string" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      qos: { type: "string" },
      workers: { type: "string" },
      separate: { type: "boolean" },
      all: { type: "boolean" },
      shards: { type: "string" },
      rebalance: { type: "boolean" },
      api: { type: "boolean" },
      rounds: { type: "string" },
      dialect: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) throw new UsageError("");
  const number = (flag: keyof typeof values, fallback: number, min: number, max: number) => {
    const raw = values[flag] ?? process.env[`BENCH_${flag.toUpperCase()}`];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`--${flag} must be an integer in [${min}, ${max}], not '${raw}'`);
    return n;
  };
  // Separate processes, as production runs them, unless --all asks for the one process
  // of `npm start` (one event loop for every service: it can use one core of the two).
  const all = values.all === true || process.env.BENCH_ALL === "1";
  if (
    all &&
    (values.separate === true || values.rebalance === true || number("shards", 1, 1, 16) > 1)
  )
    throw new UsageError(
      "--all runs one process: it cannot go with --separate, --shards or --rebalance",
    );
  const dialect = values.dialect ?? process.env.BENCH_DIALECT ?? "onenet";
  if (dialect !== "onenet" && dialect !== "aws" && dialect !== "azure")
    throw new UsageError(`--dialect must be onenet, aws or azure, not '${dialect}'`);
  const only = values.only ?? process.env.BENCH_ONLY;
  if (only !== undefined && only !== "mosquitto" && only !== "umbra")
    throw new UsageError(`--only must be mosquitto or umbra, not '${only}'`);
  return {
    targets: only === undefined ? ["mosquitto", "umbra"] : [only],
    devices: number("devices", 100, 1, 100_000),
    inflight: number("inflight", values.api === true ? 2 : 10, 1, 10_000),
    seconds: number("seconds", 10, 1, 3600),
    warmup: number("warmup", 2, 0, 600),
    qos: number("qos", 0, 0, 1) as 0 | 1,
    workers: number("workers", 1, 1, 64),
    separate: !all,
    shards: number("shards", 1, 1, 16),
    rebalance: values.rebalance === true || process.env.BENCH_REBALANCE === "1",
    api: values.api === true || process.env.BENCH_API === "1",
    rounds: number("rounds", 1, 1, 50),
    dialect,
  };
};

const progress = (message: string) => process.stderr.write(`bench:e2e ${message}\n`);

// ── Load threads ────────────────────────────────────────────────────────────────────────

/** The next report of a worker; rejects if it reports an error, fails or exits first. */
const nextReport = (worker: Worker): Promise<WorkerReport> =>
  new Promise((resolve, reject) => {
    const done = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    const onMessage = (report: WorkerReport) => {
      done();
      if (report.type === "error") reject(new Error(report.message));
      else resolve(report);
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`a load thread exited (code ${code}) before reporting`));
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });

/** Runs the devices, spread over the load threads, against one MQTT endpoint. */
const drive = async (
  target: Target,
  url: string,
  s: Settings,
  onGo?: () => void,
): Promise<LoadResult[]> => {
  const threads = Math.min(s.workers, s.devices);
  const workers: Worker[] = [];
  try {
    let first = 0;
    const connected: Promise<WorkerReport>[] = [];
    for (let t = 0; t < threads; t++) {
      const count = Math.floor(s.devices / threads) + (t < s.devices % threads ? 1 : 0);
      const spec: LoadSpec = {
        target,
        dialect: s.dialect,
        url,
        first,
        count,
        inflight: s.inflight,
        qos: s.qos,
        warmupMs: s.warmup * 1000,
        measureMs: s.seconds * 1000,
        drainMs: 5000,
      };
      first += count;
      const worker = new Worker(new URL("./load.worker.js", import.meta.url), { workerData: spec });
      workers.push(worker);
      connected.push(nextReport(worker));
    }
    progress(`${target}: connecting ${s.devices} devices`);
    await withDeadline(
      Promise.all(connected),
      30_000 + 20 * s.devices,
      () => `${target}: the devices did not all connect and subscribe in time`,
    );
    progress(`${target}: ${s.warmup} s warm-up, then ${s.seconds} s measured`);
    const results = workers.map((worker) => nextReport(worker));
    for (const worker of workers) worker.postMessage("go");
    onGo?.();
    const reports = await withDeadline(
      Promise.all(results),
      (s.warmup + s.seconds + 5) * 1000 + 30_000,
      () => `${target}: the load threads did not report in time`,
    );
    return reports.flatMap((report) => (report.type === "result" ? [report.result] : []));
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
};

// ── Statistics ──────────────────────────────────────────────────────────────────────────

/** A load run's counts, with its latency samples reduced to throughput and percentiles. */
interface Measured extends Omit<LoadResult, "samples" | "timeline"> {
  /** Round trips per TIMELINE_BUCKET_MS of the window, all load threads together. */
  readonly timeline: readonly number[];
  readonly roundTripsPerSec: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const summarise = (results: readonly LoadResult[], seconds: number): Measured => {
  const total = results.reduce((n, r) => n + r.samples.length, 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const r of results) {
    all.set(r.samples, at);
    at += r.samples.length;
  }
  all.sort();
  // Nearest rank: the smallest sample with at least p of them at or below it.
  const pct = (p: number) => (total === 0 ? Number.NaN : (all[Math.ceil(p * total) - 1] ?? 0));
  const sum = (pick: (r: LoadResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  const buckets = Math.max(0, ...results.map((r) => r.timeline.length));
  const timeline = Array.from({ length: buckets }, (_, b) =>
    results.reduce((n, r) => n + (r.timeline[b] ?? 0), 0),
  );
  return {
    timeline,
    roundTripsPerSec: total / seconds,
    p50Ms: pct(0.5),
    p90Ms: pct(0.9),
    p99Ms: pct(0.99),
    maxMs: total === 0 ? Number.NaN : (all[total - 1] ?? 0),
    completed: total,
    sent: sum((r) => r.sent),
    rejected: sum((r) => r.rejected),
    lost: sum((r) => r.lost),
    unexpected: sum((r) => r.unexpected),
    outOfOrder: sum((r) => r.outOfOrder),
    errors: results.flatMap((r) => r.errors),
    firstRejection: results.find((r) => r.firstRejection !== null)?.firstRejection ?? null,
  };
};

/** Why a finished run does not count, if it does not. */
const failureOf = (m: Measured, s?: Settings): string | undefined => {
  // While two shards serve a partition during a hand-off, a device's requests in flight
  // can be answered out of order: a --rebalance run reports that, it does not fail on it.
  const outOfOrder = s?.rebalance === true ? 0 : m.outOfOrder;
  const problems = [
    m.rejected > 0 ? `${m.rejected} rejected (first: ${m.firstRejection})` : "",
    m.lost > 0 ? `${m.lost} requests never answered` : "",
    m.unexpected > 0 ? `${m.unexpected} answers nobody asked for` : "",
    outOfOrder > 0 ? `${outOfOrder} accepted answers without a growing version` : "",
    m.errors.length > 0
      ? `${m.errors.length} connection errors (first: ${m.errors[0]})`
      : m.completed === 0
        ? "no round trip completed"
        : "",
  ].filter((p) => p !== "");
  return problems.length === 0 ? undefined : problems.join("; ");
};

// ── The two runs ────────────────────────────────────────────────────────────────────────

interface Outcome {
  readonly target: Target;
  readonly measured?: Measured;
  readonly error?: string;
}

const runMosquitto = async (s: Settings): Promise<Measured> => {
  progress("mosquitto: starting a broker of its own");
  const broker = await startMosquitto();
  try {
    const before = [cpuSeconds(broker.pid), cpuSeconds(process.pid)];
    const started = performance.now();
    const measured = summarise(await drive("mosquitto", broker.url, s), s.seconds);
    const trips = (measured.roundTripsPerSec * (performance.now() - started)) / 1000;
    const perTrip = (cpu: number, i: number) => fixed(((cpu - (before[i] ?? 0)) * 1e6) / trips, 1);
    progress(
      `mosquitto: CPU per round trip (≈, whole drive): mosquitto ${perTrip(cpuSeconds(broker.pid), 0)} µs, load ${perTrip(cpuSeconds(process.pid), 1)} µs`,
    );
    return measured;
  } finally {
    await broker.stop();
  }
};

const SERVICE_READY_MS = 30_000;

interface Cluster {
  readonly mqttPort: number;
  /** The API's port when started with --api. */
  readonly httpPort: number | undefined;
  readonly services: ServiceProcess[];
  /** Starts one more shard process (cluster mode), for --rebalance. */
  addShard(): Promise<ServiceProcess>;
  /** NATS and Redis, for their CPU per round trip (local processes only). */
  readonly infra: readonly Server[];
  stop(): Promise<void>;
}

/** NATS, Redis and the Umbra services, as one `umbra all` or as edge + shard + reply. */
const startCluster = async (s: Settings): Promise<Cluster> => {
  progress("umbra: starting NATS and Redis of its own");
  const infra: Server[] = [];
  const services: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(services.map((svc) => svc.stop()));
    await Promise.allSettled(infra.map((server) => server.stop()));
  };
  try {
    const [nats, redis] = await Promise.allSettled([startNats(), startRedis()]);
    for (const started of [nats, redis])
      if (started.status === "fulfilled") infra.push(started.value);
    if (nats.status === "rejected") throw nats.reason;
    if (redis.status === "rejected") throw redis.reason;
    const env = {
      NATS_URL: nats.value.url,
      REDIS_URL: redis.value.url,
      MQTT_PORT: "0",
      MQTT_HOST: "127.0.0.1",
      UMBRA_AUTH: "off",
      LOG_LEVEL: "info",
      HTTP_PORT: "0",
      // The bench measures the API, not its rate limit.
      API_RATE_LIMIT: "0",
    };
    const profile = process.env.BENCH_PROFILE_DIR;
    const options = {
      timeoutMs: SERVICE_READY_MS,
      // BENCH_PROFILE_DIR=dir: every Umbra process writes a V8 CPU profile there on exit.
      nodeArgs: profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`],
    };
    // One shard owns every partition itself; several form a cluster (membership).
    const shardEnv = (k: number) =>
      s.shards === 1 && !s.rebalance
        ? { ...env, SHARD_PARTITIONS: "all" }
        : {
            ...env,
            SHARD_ID: `bench-shard-${k}`,
            MEMBER_HEARTBEAT_MS: "250",
            MEMBER_LEASE_MS: "1500",
          };
    const starting = s.separate
      ? [
          ...Array.from({ length: s.shards }, (_, k) =>
            startService(["shard"], shardEnv(k + 1), options),
          ),
          startService(["reply"], env, options),
          ...(s.api ? [startService(["api"], env, options)] : []),
          startService(["edge"], { ...env, EDGE_ID: "bench-edge" }, options),
        ]
      : [
          startService(["all"], env, {
            ...options,
            ready: s.api ? ["edge", "api", "umbra"] : ["edge", "umbra"],
          }),
        ];
    progress(`umbra: starting ${s.separate ? "edge, shard and reply" : "umbra all"}`);
    const settled = await Promise.allSettled(starting);
    for (const started of settled) if (started.status === "fulfilled") services.push(started.value);
    const failed = settled.find((started) => started.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;

    const edge = services.find((svc) => svc.ready.edge !== undefined)?.ready.edge;
    const mqttPort = edge?.mqttPort;
    if (typeof mqttPort !== "number" || !Number.isInteger(mqttPort) || mqttPort <= 0)
      throw new Error(`the edge's ready line carries no mqttPort: ${JSON.stringify(edge)}`);
    if (s.shards > 1 || s.rebalance) await clusterSettled(redis.value.url, s.shards);
    const addShard = async () => {
      const shard = await startService(["shard"], shardEnv(services.length + 1), options);
      services.push(shard);
      return shard;
    };
    const httpPort = services.find((svc) => svc.ready.api !== undefined)?.ready.api?.httpPort;
    return {
      mqttPort,
      httpPort: typeof httpPort === "number" ? httpPort : undefined,
      services,
      infra,
      addShard,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

/** Resolves once `members` shards serve every partition and no hand-off is left. */
const clusterSettled = (redisUrl: string, members: number): Promise<void> =>
  pollUntil(async () => isSettled(await readCluster(redisUrl), members), {
    timeoutMs: 30_000,
    what: `${members} shard(s) to settle`,
    intervalMs: 50,
  });

/**
 * The dip a rebalance caused in a run's timeline: throughput before it (median of the
 * buckets from the window start to the event), the lowest bucket after it, and how long
 * after it until three buckets in a row were back at 90 % of before.
 */
const dipOf = (timeline: readonly number[], eventMs: number) => {
  const at = Math.floor(eventMs / TIMELINE_BUCKET_MS);
  const perSec = 1000 / TIMELINE_BUCKET_MS;
  const before = median(timeline.slice(0, at)) ?? 0;
  const after = timeline.slice(at, -1);
  let recoveredAfterMs: number | null = null;
  for (let b = 0; b + 2 < after.length; b++)
    if ([0, 1, 2].every((k) => (after[b + k] ?? 0) >= 0.9 * before)) {
      recoveredAfterMs = b * TIMELINE_BUCKET_MS;
      break;
    }
  return {
    beforePerSec: Math.round(before * perSec),
    lowestPerSec: Math.round(Math.min(...after) * perSec),
    recoveredAfterMs,
  };
};

/** CPU seconds a process has used so far (Linux /proc; 0 elsewhere). */
const cpuSeconds = (pid: number | undefined): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 10 ms
  } catch {
    return 0;
  }
};

const runUmbra = async (s: Settings): Promise<Measured> => {
  const cluster = await startCluster(s);
  try {
    // Every process on the path: the services, NATS, Redis and this load process itself.
    const meters: [name: string, cpu: () => number][] = [
      ...cluster.services.map((svc): [string, () => number] => [
        svc.proc.spawnargs.slice(2).join(" "),
        () => cpuSeconds(svc.proc.pid),
      ]),
      ...cluster.infra.map((server): [string, () => number] => [
        server.url.startsWith("nats:") ? "nats-server" : "redis-server",
        () => cpuSeconds(server.pid),
      ]),
      ["load", () => cpuSeconds(process.pid)],
    ];
    const before = meters.map(([, cpu]) => cpu());
    const started = performance.now();
    // --rebalance: one more shard joins half-way through the measured window.
    let rebalance: Promise<{ eventMs: number; settledMs: number }> | undefined;
    const onGo = () => {
      if (!s.rebalance) return;
      const eventMs = (s.seconds * 1000) / 2;
      rebalance = new Promise((resolve, reject) =>
        setTimeout(
          () => {
            const started = performance.now();
            progress(`umbra: shard ${s.shards + 1} joins`);
            cluster
              .addShard()
              .then(() =>
                clusterSettled(
                  cluster.infra.find((i) => i.url.startsWith("redis:"))?.url ?? "",
                  s.shards + 1,
                ),
              )
              .then(() => resolve({ eventMs, settledMs: performance.now() - started }), reject);
          },
          s.warmup * 1000 + eventMs,
        ),
      );
    };
    const measured = summarise(
      await drive("umbra", `mqtt://127.0.0.1:${cluster.mqttPort}`, s, onGo),
      s.seconds,
    );
    if (rebalance !== undefined) {
      const { eventMs, settledMs } = await rebalance;
      const dip = dipOf(measured.timeline, eventMs);
      progress(
        `umbra: rebalance ${s.shards} → ${s.shards + 1} shards: settled in ${Math.round(settledMs)} ms; ` +
          `throughput ${grouped(dip.beforePerSec)}/s before, lowest ${grouped(dip.lowestPerSec)}/s after, ` +
          (dip.recoveredAfterMs === null
            ? "not back to 90 % before the window ended"
            : `back to 90 % after ${dip.recoveredAfterMs} ms`) +
          `; ${measured.outOfOrder} answers out of order`,
      );
    }
    // CPU per round trip is steadier than throughput on a machine whose speed drifts:
    // each process's CPU over the whole drive, over the round trips made in that time.
    const elapsed = (performance.now() - started) / 1000;
    const trips = measured.roundTripsPerSec * elapsed;
    const perTrip = meters.map(
      ([name, cpu], i) => `${name} ${fixed(((cpu() - (before[i] ?? 0)) * 1e6) / trips, 1)} µs`,
    );
    progress(`umbra: CPU per round trip (≈, whole drive): ${perTrip.join(", ")}`);
    const died = cluster.services.filter((svc) => svc.proc.exitCode !== null);
    if (died.length > 0 || failureOf(measured, s) !== undefined)
      // The services' own words are what explains a failed run.
      for (const svc of cluster.services)
        progress(
          `umbra: last output of umbra ${svc.proc.spawnargs.slice(2).join(" ")}:\n${svc.logs()}`,
        );
    if (died.length > 0)
      throw new Error(
        died
          .map(
            (svc) =>
              `umbra ${svc.proc.spawnargs.slice(2).join(" ")} exited (code ${svc.proc.exitCode}) during the run`,
          )
          .join("; "),
      );
    return measured;
  } finally {
    await cluster.stop();
  }
};

// ── Report ──────────────────────────────────────────────────────────────────────────────

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
const grouped = (n: number) => Math.round(n).toLocaleString("en-US");

const table = (outcomes: readonly Outcome[], ratio: Record<string, number> | null): string => {
  const rows: string[][] = [
    ["target", "round trips/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "rejected", "lost"],
  ];
  for (const { target, measured: m, error } of outcomes) {
    if (m === undefined) rows.push([target, `failed: ${error?.split("\n")[0] ?? ""}`]);
    else
      rows.push([
        target,
        grouped(m.roundTripsPerSec),
        fixed(m.p50Ms, 2),
        fixed(m.p90Ms, 2),
        fixed(m.p99Ms, 2),
        fixed(m.maxMs, 2),
        String(m.rejected),
        String(m.lost),
      ]);
  }
  if (ratio !== null)
    rows.push([
      "umbra/mosquitto",
      `${fixed(ratio.throughput ?? Number.NaN, 3)}×`,
      `${fixed(ratio.p50 ?? Number.NaN, 2)}×`,
      `${fixed(ratio.p90 ?? Number.NaN, 2)}×`,
      `${fixed(ratio.p99 ?? Number.NaN, 2)}×`,
    ]);
  // A failed run's row is its message: it does not size the columns.
  const full = rows.filter((row) => row.length > 2);
  const widths = rows[0]?.map((_, c) => Math.max(...full.map((row) => (row[c] ?? "").length)));
  return rows
    .map((row) =>
      row.length === 2
        ? `${(row[0] ?? "").padEnd(widths?.[0] ?? 0)}  ${row[1]}`
        : row
            .map((cell, c) =>
              c === 0 ? cell.padEnd(widths?.[c] ?? 0) : cell.padStart(widths?.[c] ?? 0),
            )
            .join("  "),
    )
    .join("\n");
};

/** The middle value, or the mean of the two middle ones; null for none. */
const median = (values: readonly number[]): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** --api: desired writes through the HTTP API until each device's delta, on Umbra alone. */
const runApi = async (s: Settings): Promise<number> => {
  const cluster = await startCluster(s);
  try {
    if (cluster.httpPort === undefined) throw new Error("the api's ready line carries no httpPort");
    progress(
      `api: ${s.devices} devices × ${s.inflight} writes in flight, ${s.warmup} s warm-up, then ${s.seconds} s measured`,
    );
    const before = [
      ...cluster.services.map((svc) => cpuSeconds(svc.proc.pid)),
      cpuSeconds(process.pid),
    ];
    const started = performance.now();
    const r = await runApiLoad({
      apiUrl: `http://127.0.0.1:${cluster.httpPort}`,
      mqttUrl: `mqtt://127.0.0.1:${cluster.mqttPort}`,
      devices: s.devices,
      inflight: s.inflight,
      warmupMs: s.warmup * 1000,
      measureMs: s.seconds * 1000,
    });
    // CPU per delivered update, each process over the whole drive (see runUmbra).
    const trips = (r.roundTrips.length / s.seconds) * ((performance.now() - started) / 1000);
    const names = [...cluster.services.map((svc) => svc.proc.spawnargs.slice(2).join(" ")), "load"];
    const pids = [...cluster.services.map((svc) => svc.proc.pid), process.pid];
    progress(
      `api: CPU per update (≈, whole drive, registration included): ${names
        .map(
          (name, i) =>
            `${name} ${fixed(((cpuSeconds(pids[i]) - (before[i] ?? 0)) * 1e6) / trips, 1)} µs`,
        )
        .join(", ")}`,
    );
    const pct = (values: Float64Array, p: number) => {
      const sorted = Float64Array.from(values).sort();
      return sorted.length === 0 ? Number.NaN : (sorted[Math.ceil(p * sorted.length) - 1] ?? 0);
    };
    console.log(
      `\nHTTP API → device delta: ${s.devices} devices × ${s.inflight} in flight, ${s.seconds} s measured after ${s.warmup} s warm-up, ${cpus().length} CPUs, umbra ${s.separate ? "as separate processes" : "all"}`,
    );
    console.log(
      `desired updates/s (delta delivered) ${grouped(r.roundTrips.length / s.seconds)}; ` +
        `PATCH → delta p50 ${fixed(pct(r.roundTrips, 0.5), 2)} ms, p99 ${fixed(pct(r.roundTrips, 0.99), 2)} ms; ` +
        `PATCH → 200 p50 ${fixed(pct(r.answers, 0.5), 2)} ms, p99 ${fixed(pct(r.answers, 0.99), 2)} ms; ` +
        `failed ${r.failed}${r.firstFailure === null ? "" : ` (first: ${r.firstFailure})`}; lost ${r.lost}`,
    );
    console.log(
      JSON.stringify({
        bench: "e2e-api",
        devices: s.devices,
        inflight: s.inflight,
        seconds: s.seconds,
        separate: s.separate,
        updatesPerSec: Math.round(r.roundTrips.length / s.seconds),
        p50Ms: Number(fixed(pct(r.roundTrips, 0.5), 3)),
        p99Ms: Number(fixed(pct(r.roundTrips, 0.99), 3)),
        httpP50Ms: Number(fixed(pct(r.answers, 0.5), 3)),
        httpP99Ms: Number(fixed(pct(r.answers, 0.99), 3)),
        failed: r.failed,
        lost: r.lost,
      }),
    );
    return r.failed === 0 && r.lost === 0 && r.roundTrips.length > 0 ? 0 : 1;
  } finally {
    await cluster.stop();
  }
};

const main = async (): Promise<number> => {
  let s: Settings;
  try {
    s = settingsFrom(process.argv.slice(2));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(message === "" ? USAGE : `${message}\n${USAGE}`);
    return error instanceof UsageError && message === "" ? 0 : 2;
  }
  if (s.api) return runApi(s);

  // With --rounds=N the two runs alternate (M U, U M, …) and the ratio is the median of
  // the rounds': the machine's speed drifts between one run and the next.
  let outcomes: Outcome[] = [];
  const roundRatios: number[] = [];
  for (let r = 0; r < s.rounds; r++) {
    outcomes = [];
    const order = r % 2 === 0 ? s.targets : [...s.targets].reverse();
    for (const target of order) {
      try {
        const measured = await (target === "mosquitto" ? runMosquitto(s) : runUmbra(s));
        const failure = failureOf(measured, s);
        outcomes.push(
          failure === undefined ? { target, measured } : { target, measured, error: failure },
        );
      } catch (error) {
        outcomes.push({ target, error: error instanceof Error ? error.message : String(error) });
      }
    }
    const m = outcomes.find((o) => o.target === "mosquitto" && o.error === undefined)?.measured;
    const u = outcomes.find((o) => o.target === "umbra" && o.error === undefined)?.measured;
    if (m !== undefined && u !== undefined) {
      roundRatios.push(u.roundTripsPerSec / m.roundTripsPerSec);
      if (s.rounds > 1)
        progress(
          `round ${r + 1}/${s.rounds}: mosquitto ${grouped(m.roundTripsPerSec)}/s, umbra ${grouped(u.roundTripsPerSec)}/s, ratio ${fixed(u.roundTripsPerSec / m.roundTripsPerSec, 3)}`,
        );
    }
    if (outcomes.some((o) => o.error !== undefined)) break;
  }
  outcomes.sort((a, b) => s.targets.indexOf(a.target) - s.targets.indexOf(b.target));
  const medianRatio = median(roundRatios);

  const mosquitto = outcomes.find((o) => o.target === "mosquitto")?.measured;
  const umbra = outcomes.find((o) => o.target === "umbra")?.measured;
  const ratio =
    mosquitto !== undefined && umbra !== undefined
      ? {
          throughput: umbra.roundTripsPerSec / mosquitto.roundTripsPerSec,
          p50: umbra.p50Ms / mosquitto.p50Ms,
          p90: umbra.p90Ms / mosquitto.p90Ms,
          p99: umbra.p99Ms / mosquitto.p99Ms,
        }
      : null;

  const payloadBytes = Buffer.byteLength(payloadFor(s.dialect)(0));
  console.log(
    `\nend-to-end round trips: ${s.devices} devices × ${s.inflight} in flight, QoS ${s.qos}, ` +
      `${s.seconds} s measured after ${s.warmup} s warm-up, ${payloadBytes}-byte payload, ` +
      `${s.workers} load thread(s), ${cpus().length} CPUs` +
      (s.targets.includes("umbra")
        ? `, umbra ${s.separate ? `as edge, reply and ${s.shards} shard process(es)` : "all"}`
        : ""),
  );
  console.log(table(outcomes, ratio));
  if (s.rounds > 1 && medianRatio !== null)
    console.log(
      `umbra/mosquitto throughput over ${roundRatios.length} alternating rounds: median ${fixed(medianRatio, 3)}× (${roundRatios.map((x) => fixed(x, 3)).join(", ")}); the table shows the last round`,
    );
  for (const o of outcomes)
    if (o.error !== undefined) console.log(`\n${o.target} FAILED: ${o.error}`);
  const round = ({ timeline: _timeline, ...m }: Measured) => ({
    ...m,
    roundTripsPerSec: Math.round(m.roundTripsPerSec),
    p50Ms: Number(fixed(m.p50Ms, 3)),
    p90Ms: Number(fixed(m.p90Ms, 3)),
    p99Ms: Number(fixed(m.p99Ms, 3)),
    maxMs: Number(fixed(m.maxMs, 3)),
    errors: m.errors.slice(0, 10),
  });
  console.log(
    JSON.stringify({
      bench: "e2e",
      devices: s.devices,
      inflight: s.inflight,
      qos: s.qos,
      seconds: s.seconds,
      warmup: s.warmup,
      workers: s.workers,
      separate: s.separate,
      shards: s.shards,
      rebalance: s.rebalance,
      rounds: s.rounds,
      dialect: s.dialect,
      ratioRounds: roundRatios.map((x) => Number(fixed(x, 3))),
      medianRatio: medianRatio === null ? null : Number(fixed(medianRatio, 3)),
      payloadBytes,
      cpus: cpus().length,
      ...Object.fromEntries(
        outcomes.map((o) => [
          o.target,
          {
            ok: o.error === undefined,
            ...(o.measured === undefined ? {} : round(o.measured)),
            ...(o.error === undefined ? {} : { error: o.error.split("\n")[0] }),
          },
        ]),
      ),
      ratio:
        ratio === null
          ? null
          : Object.fromEntries(Object.entries(ratio).map(([k, v]) => [k, Number(fixed(v, 3))])),
    }),
  );
  return outcomes.every((o) => o.error === undefined) ? 0 : 1;
};

process.exitCode = await main();

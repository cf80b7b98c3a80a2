/**
 * `npm run bench`: the engine's share of the hot path, on one core. Each operation is
 * what a shard does with a device's image update: wire bytes → parse → applyUpdate
 * (merge, metadata, version, size check, delta) → render and encode update/accepted
 * and the delta message. A second figure adds encoding the whole document, as a
 * store that writes the document whole would.
 *
 *   BENCH_SECONDS=5 npm run bench          longer rounds
 *   node --cpu-prof packages/core/dist/bench/apply-update.bench.js   profile it
 */
import {
  applyUpdate,
  createShadow,
  encodeDocument,
  encodeJson,
  parseUpdatePayload,
  renderOneNetDelta,
  renderOneNetUpdateAccepted,
  type ShadowDocument,
  type Source,
} from "../src/index.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** 20 reported properties of mixed types; desired holds 8 of them. */
const twentyProperties = (): ShadowDocument => {
  let doc = createShadow("bench-product", "bench-device", 0);
  const reported: Record<string, unknown> = {};
  for (let i = 0; i < 14; i++) reported[`sensor${i}`] = i * 1.5;
  reported.status = "running";
  reported.online = true;
  reported.firmware = "1.4.2";
  reported.location = { lat: 31.23, lon: 121.47 };
  reported.colors = ["RED", "GREEN"];
  reported.mode = "auto";
  const desired: Record<string, unknown> = { mode: "eco", firmware: "1.5.0" };
  for (let i = 0; i < 6; i++) desired[`sensor${i}`] = i * 1.5;
  for (const [state, source] of [
    [reported, "device"],
    [desired, "cloud"],
  ] as const) {
    const write = applyUpdate(
      doc,
      { [source === "device" ? "reported" : "desired"]: state, source } as never,
      { now: 1 },
    );
    if (!write.ok) throw new Error(JSON.stringify(write.error));
    doc = write.value.doc;
  }
  return doc;
};

type Kind = "reported" | "desired" | "deletes";

/** A pool of distinct wire payloads, so no iteration sees a constant. */
const payloads = (kind: Kind): Buffer[] =>
  Array.from({ length: 256 }, (_, i) => {
    // readings like the seeds show them (25.6, 60)
    const reading = 20 + (i % 100) / 10;
    const state =
      kind === "reported"
        ? { reported: { sensor3: reading, sensor9: i, status: i % 2 ? "running" : "idle" } }
        : kind === "deletes" // every other report withdraws a reading, the next restores it
          ? { reported: { sensor3: i % 2 ? null : reading, sensor9: i } }
          : { desired: { mode: i % 3 ? "eco" : "comfort", sensor1: 18 + (i % 50) / 10 } };
    return Buffer.from(JSON.stringify({ state }));
  });

interface Round {
  readonly ops: number;
  /** Wall-clock seconds. */
  readonly seconds: number;
  /** CPU seconds this process used: "on one core" without time the machine gave away. */
  readonly cpuSeconds: number;
}

const run = (kind: Kind, source: Source, withDocument: boolean): Round => {
  const pool = payloads(kind);
  let doc = twentyProperties();
  let now = 1_700_000_000_000;
  let ops = 0;
  let sink = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() < deadline) {
    // 256 operations between clock reads keeps the clock off the profile.
    for (let i = 0; i < 256; i++) {
      const patch = parseUpdatePayload(pool[(ops + i) & 255] as Buffer);
      if (!patch.ok) throw new Error("bad payload");
      const { desired, reported } = patch.value;
      const write = applyUpdate(doc, { desired, reported, source }, { now: ++now });
      if (!write.ok) throw new Error(JSON.stringify(write.error));
      doc = write.value.doc;
      sink += encodeJson(renderOneNetUpdateAccepted(write.value)).length;
      const delta = renderOneNetDelta(doc, now, write.value.delta);
      if (delta !== undefined) sink += encodeJson(delta).length;
      if (withDocument) sink += encodeDocument(doc).length;
    }
    ops += 256;
  }
  if (sink === 0) throw new Error("nothing rendered");
  const cpu = process.cpuUsage(cpuStart);
  return {
    ops,
    seconds: (performance.now() - start) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
};

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

const measure = (kind: Kind, source: Source, withDocument: boolean) => {
  run(kind, source, withDocument); // warm-up: let the JIT settle
  const rounds = Array.from({ length: ROUNDS }, () => run(kind, source, withDocument));
  const wall = rounds.map((r) => r.ops / r.seconds);
  const cpu = rounds.map((r) => r.ops / r.cpuSeconds);
  return { cpu: median(cpu), wall: median(wall), min: Math.min(...cpu), max: Math.max(...cpu) };
};

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

const scenario = (name: string, kind: Kind, source: Source) => {
  const engine = measure(kind, source, false);
  const stored = measure(kind, source, true);
  console.log(
    `${name}: ${fmt(engine.cpu)} ops/s per CPU second (${(1e6 / engine.cpu).toFixed(2)} µs/op, rounds ${fmt(engine.min)}–${fmt(engine.max)}; wall clock ${fmt(engine.wall)} ops/s)`,
  );
  console.log(
    `${" ".repeat(name.length)}  + whole document encoded: ${fmt(stored.cpu)} ops/s per CPU second (${(1e6 / stored.cpu).toFixed(2)} µs/op; wall clock ${fmt(stored.wall)})`,
  );
  return engine.cpu;
};

const docBytes = JSON.stringify(twentyProperties()).length;
console.log("@umbra/core: parse → applyUpdate + delta → update/accepted and delta encoded");
console.log(
  `20-property document (${docBytes} bytes), node ${process.version}, median of ${ROUNDS} rounds of ${SECONDS}s, one core\n`,
);
const device = scenario("device report (3 reported leaves)", "reported", "device");
const cloud = scenario("cloud update  (2 desired leaves) ", "desired", "cloud");
const deletes = scenario("device report, every other a delete", "deletes", "device");
const target = 100_000;
const worst = Math.min(device, cloud, deletes);
console.log(
  `\ntarget ≥ ${fmt(target)} ops/s: ${worst >= target ? "met" : "NOT met"} (slowest ${fmt(worst)})`,
);

/**
 * Runs a fuzz family: `parallel` fast-check runners at once (seeds seed, seed+1, …), each
 * with its own attacker device, then the health check. A failure names the family, the
 * worker, its seed and path (enough to replay it alone) and the shrunk counterexample,
 * and the first failing input before shrinking (after a crash every input fails, so the
 * shrunk one says little).
 */
import fc from "fast-check";
import { FAMILIES, type Family } from "./families.js";
import { checkHealth, type Health, type Target } from "./target.js";

export interface RunOptions {
  readonly seed: number;
  /** Property runs for this family, split over its workers. */
  readonly runs: number;
  /** Replay one worker's failure: its index and fast-check path. */
  readonly replay?: { readonly worker: number; readonly path: string };
}

export interface FamilyResult {
  readonly family: string;
  readonly cases: number;
  /** What the edge or API did with the cases, counted. */
  readonly notes: Readonly<Record<string, number>>;
  readonly ms: number;
  readonly failures: readonly string[];
  readonly health?: Health;
}

export const familyNamed = (name: string): Family => {
  const f = FAMILIES.find((x) => x.name === name);
  if (f === undefined)
    throw new Error(`no fuzz family '${name}' (${FAMILIES.map((x) => x.name).join(", ")})`);
  return f;
};

/** A value for a report: long strings and byte arrays cut, so the shape stays readable. */
const preview = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string")
    return value.length <= 80 ? value : `${value.slice(0, 40)}…(${value.length} chars)`;
  // Bytes as their UTF-8 text (bodies and payloads are mostly JSON); the replay has them exact.
  if (value instanceof Uint8Array) {
    const text = Buffer.from(value.subarray(0, 300)).toString("utf8");
    return `<${value.length} bytes: ${text}${value.length > 300 ? "…" : ""}>`;
  }
  if (depth > 12 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const items = value.slice(0, 20).map((v) => preview(v, depth + 1));
    return value.length <= 20 ? items : [...items, `…(${value.length} items)`];
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [preview(k), preview(v, depth + 1)]),
  );
};

/** fast-check's rendering of a (previewed) value. */
export const show = (value: unknown): string => fc.stringify(preview(value));

/** An error's first lines (the health check's whole: it carries a dead process's output). */
const describeError = (e: unknown, lines = 12): string =>
  e instanceof Error ? e.message.split("\n").slice(0, lines).join("\n") : String(e);

export const runFamily = async (
  target: Target,
  family: Family,
  options: RunOptions,
): Promise<FamilyResult> => {
  const started = Date.now();
  let cases = 0;
  const count = (n: number) => {
    cases += n;
  };
  const notes: Record<string, number> = {};
  const note = (outcome: string, n = 1) => {
    notes[outcome] = (notes[outcome] ?? 0) + n;
  };
  const workers =
    options.replay === undefined
      ? Array.from({ length: family.parallel }, (_, i) => i)
      : [options.replay.worker];
  const perWorker = Math.max(1, Math.ceil(options.runs / family.parallel));
  const failures: string[] = [];
  const teardown = await family.setup?.(target);
  await Promise.all(
    workers.map(async (worker) => {
      // A replay is given the failing worker's own seed.
      const seed = options.replay === undefined ? options.seed + worker : options.seed;
      let first: string | undefined;
      const property = family.property({ target, worker, count, note }, (value, error) => {
        first ??= `${show(value)}\n    error: ${describeError(error)}`;
      });
      const details = await fc.check(property, {
        seed,
        numRuns: perWorker,
        timeout: 60_000,
        ...(options.replay === undefined ? {} : { path: options.replay.path, numRuns: 1 }),
      });
      if (!details.failed) return;
      const replay = `npm run fuzz -- --family ${family.name} --worker ${worker} --seed ${details.seed} --path ${details.counterexamplePath}`;
      failures.push(
        [
          `family ${family.name}, worker ${worker}: seed ${details.seed}, path ${details.counterexamplePath}` +
            ` (${details.numRuns} runs, shrunk ${details.numShrinks} times)`,
          `  replay: ${replay}`,
          `  shrunk counterexample: ${show(details.counterexample)}`,
          `  error: ${describeError(details.errorInstance)}`,
          ...(first === undefined ? [] : [`  first failing input, before shrinking: ${first}`]),
        ].join("\n"),
      );
    }),
  );
  try {
    await teardown?.();
  } catch (error) {
    failures.push(`family ${family.name}: its set-up failed: ${describeError(error)}`);
  }
  let health: Health | undefined;
  try {
    health = await checkHealth(target);
  } catch (error) {
    failures.push(
      `family ${family.name}: health check after the family failed: ${describeError(error, 80)}`,
    );
  }
  return {
    family: family.name,
    cases,
    notes,
    ms: Date.now() - started,
    failures,
    ...(health === undefined ? {} : { health }),
  };
};

export const formatResult = (r: FamilyResult): string =>
  `${r.family.padEnd(18)} ${String(r.cases).padStart(7)} cases ${String(r.ms).padStart(7)} ms` +
  (r.health === undefined
    ? ""
    : `  rss MiB ${Object.entries(r.health.rss)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`) +
  (r.failures.length === 0 ? "" : `  FAILED (${r.failures.length})`) +
  (Object.keys(r.notes).length === 0
    ? ""
    : `\n${" ".repeat(19)}${Object.entries(r.notes)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ")}`);

/**
 * `npm run fuzz -- --minutes N`: loops the fuzz families with a new seed each round until
 * the time is up, then prints the case count and every failure with its seed and path.
 * Failures do not stop the loop (each round has new seeds). `--family A,B` runs only
 * those families, `--skip A,B` all but those (e.g. one failing on a known finding);
 * `--family NAME --seed S --worker W --path P` replays one failure.
 * `--runs N` sets the property runs per family and round (default: the CI run's).
 * Exit code 1 when an invariant broke.
 */
import { parseArgs } from "node:util";
import { FAMILIES } from "./families.js";
import { type FamilyResult, familyNamed, formatResult, runFamily } from "./runner.js";
import { revived, startTarget } from "./target.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    family: { type: "string" },
    skip: { type: "string" },
    seed: { type: "string" },
    worker: { type: "string" },
    path: { type: "string" },
    runs: { type: "string" },
  },
});

const number = (text: string | undefined, what: string): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`fuzz: --${what} must be a number (got '${text}')`);
    process.exit(2);
  }
  return n;
};

const minutes = number(values.minutes, "minutes") ?? 5;
const runs = number(values.runs, "runs");
const list = (text: string | undefined) => (text ?? "").split(",").filter((x) => x !== "");
const skipped = new Set(list(values.skip).map((n) => familyNamed(n).name));
const families = (
  values.family === undefined ? FAMILIES : list(values.family).map(familyNamed)
).filter((f) => !skipped.has(f.name));
const replaying = values.path !== undefined;
if (replaying && (values.family === undefined || values.seed === undefined)) {
  console.error("fuzz: a replay needs --family, --seed, --worker and --path");
  process.exit(2);
}

let target = await startTarget();
const results: FamilyResult[] = [];
const deadline = Date.now() + minutes * 60_000;
let round = 0;
let seed = number(values.seed, "seed") ?? Math.floor(Math.random() * 0x7fff_ffff);
try {
  do {
    console.log(`fuzz: round with seed ${seed}`);
    for (const family of families) {
      const result = await runFamily(target, family, {
        seed,
        runs: runs ?? family.runs,
        ...(replaying
          ? {
              replay: { worker: number(values.worker, "worker") ?? 0, path: values.path as string },
            }
          : {}),
      });
      results.push(result);
      console.log(`fuzz: ${formatResult(result)}`);
      for (const failure of result.failures) console.log(failure);
      const before = target;
      target = await revived(target);
      if (target !== before) console.log("fuzz: a process died; the cluster was started anew");
      // The first round always runs whole: `--minutes 0` is one pass over every family.
      if (replaying || (round > 0 && Date.now() >= deadline)) break;
    }
    seed = (seed + 1_000) % 0x7fff_ffff;
    round++;
  } while (!replaying && Date.now() < deadline);
} finally {
  await target.stop();
}

const cases = results.reduce((n, r) => n + r.cases, 0);
const failures = results.flatMap((r) => r.failures);
console.log(`fuzz: ${cases} cases, ${failures.length} failure(s)`);
for (const f of failures) console.log(`\n${f}`);
process.exit(failures.length === 0 ? 0 : 1);

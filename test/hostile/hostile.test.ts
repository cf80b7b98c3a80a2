/**
 * The CI-sized fuzz run: every family against a real cluster (NATS, Redis, shard, reply,
 * an edge and an API process), over 20,000 cases in all, with the invariants checked after
 * each family. The seed is new each run (printed; `FUZZ_SEED` fixes it); a failure prints
 * how to replay it with `npm run fuzz`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FAMILIES } from "./families.js";
import { formatResult, runFamily } from "./runner.js";
import { revived, startTarget, type Target } from "./target.js";

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 0x7fff_ffff));
let target: Target;
let total = 0;
const started = Date.now();

before(async () => {
  target = await startTarget();
  console.log(`fuzz: seed ${seed} (FUZZ_SEED=${seed} repeats this run)`);
});

after(async () => {
  console.log(`fuzz: ${total} cases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await target?.stop();
});

describe("hostile input never brings Umbra down or crosses a tenant (fuzz)", () => {
  for (const family of FAMILIES)
    it(`${family.name}: the processes live, a fresh device is served, the victim's shadow is unchanged, memory is bounded`, async () => {
      const result = await runFamily(target, family, { seed, runs: family.runs });
      total += result.cases;
      // After a crash (reported by this family) the next families get a new cluster.
      target = await revived(target);
      console.log(`fuzz: ${formatResult(result)}`);
      if (result.failures.length > 0) assert.fail(result.failures.join("\n\n"));
    });
});

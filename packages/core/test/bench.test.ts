import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const bench = fileURLToPath(new URL("../bench/apply-update.bench.js", import.meta.url));

describe("npm run bench", () => {
  it("runs every scenario and reports ops/s (a smoke run: no figure is judged)", () => {
    const run = spawnSync(process.execPath, [bench], {
      encoding: "utf8",
      env: { ...process.env, BENCH_SECONDS: "0.05", BENCH_ROUNDS: "1" },
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /device report .*ops\/s/);
    assert.match(run.stdout, /cloud update .*ops\/s/);
    assert.match(run.stdout, /every other a delete: [\d,]+ ops\/s/);
    assert.match(run.stdout, /whole document encoded: [\d,]+ ops\/s/);
  });
});

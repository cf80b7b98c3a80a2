import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../src/main.js", import.meta.url));
const umbra = (...args: string[]) =>
  spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 20_000 });

describe("umbra launcher", () => {
  it("runs `all` by default and says what this build contains", () => {
    const run = umbra();
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Umbra 0\.1\.0/);
    assert.match(run.stdout, /shadow engine/);
  });

  it("prints its version", () => {
    const run = umbra("version");
    assert.equal(run.status, 0);
    assert.equal(run.stdout.trim(), "0.1.0");
  });

  it("refuses an unknown command with the usage and exit code 2", () => {
    const run = umbra("frobnicate");
    assert.equal(run.status, 2);
    assert.match(run.stderr, /unknown command 'frobnicate'/);
    assert.match(run.stderr, /Usage: umbra <command>/);
  });

  it("says plainly that a service not yet built cannot run, and fails", () => {
    const run = umbra("edge");
    assert.equal(run.status, 1);
    assert.match(run.stdout, /The edge service is not in this build yet/);
  });
});

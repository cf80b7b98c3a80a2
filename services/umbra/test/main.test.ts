import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../src/main.js", import.meta.url));
const umbra = (...args: string[]) =>
  spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 20_000 });

describe("umbra launcher", () => {
  it("prints the usage for help, naming every service", () => {
    const run = umbra("help");
    assert.equal(run.status, 0);
    for (const name of ["all", "edge", "shard", "reply", "api", "device"])
      assert.match(run.stdout, new RegExp(`\\n  ${name} `));
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

  it("stops the api on a bad API_KEYS with one line naming the variable", () => {
    const run = spawnSync(process.execPath, [main, "api"], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, API_KEYS: "short=p1", LOG_LEVEL: "silent" },
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /umbra api: bad configuration: API_KEYS: .*16 characters/);
  });

  it("stops a service on a bad configuration value with one line naming the variable", () => {
    const run = spawnSync(process.execPath, [main, "edge"], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, MQTT_PORT: "not-a-port", LOG_LEVEL: "silent" },
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /umbra edge: .*MQTT_PORT/);
  });

  it("says which NATS it cannot reach when NATS_URL points nowhere", () => {
    const run = spawnSync(process.execPath, [main, "shard"], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, NATS_URL: "nats://127.0.0.1:1", LOG_LEVEL: "silent" },
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  });

  it("refuses device commands with wrong arguments and exit code 2", () => {
    const run = umbra("device", "add", "only-a-product");
    assert.equal(run.status, 2);
    assert.match(run.stderr, /wrong arguments/);
  });
});

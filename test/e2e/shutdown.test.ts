/**
 * Shutdown has a deadline: SIGTERM after NATS and Redis have gone ends every process —
 * `umbra all` and each service alone — within SHUTDOWN_TIMEOUT_MS, with a non-zero code
 * when the orderly shutdown could not finish, instead of a process that logs `stopped`
 * (or nothing) and lives on.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import {
  type ServiceProcess,
  startNats,
  startRedis,
  startService,
  withDeadline,
} from "../src/harness.js";

const SHUTDOWN_TIMEOUT_MS = 3_000;

/** SIGTERM, then the exit code, which must come well within the deadline's reach. */
const terminate = async (process: ServiceProcess, label: string): Promise<number | null> => {
  const { proc } = process;
  if (proc.exitCode !== null) return proc.exitCode;
  const exited = once(proc, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  proc.kill("SIGTERM");
  const [code] = await withDeadline(
    exited,
    SHUTDOWN_TIMEOUT_MS + 12_000,
    () => `${label} still running after SIGTERM\n${process.logs()}`,
  );
  return code;
};

describe("shutdown with NATS and Redis gone", () => {
  it("umbra all, shard, reply, edge and api each exit after SIGTERM within the deadline", async (t) => {
    const [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      MQTT_HOST: "127.0.0.1",
      MQTT_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      API_AUTH: "off",
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      HANDOFF_TIMEOUT_MS: "1000",
    };
    const names = ["all", "shard", "reply", "edge", "api"];
    const processes = await Promise.all(names.map((name) => startService([name], env)));
    try {
      await Promise.all([nats.stop(), redis.stop()]);
      const codes = await Promise.all(processes.map((p, i) => terminate(p, `umbra ${names[i]}`)));
      t.diagnostic(`exit codes: ${names.map((n, i) => `${n} ${codes[i]}`).join(", ")}`);
      for (const [i, code] of codes.entries())
        assert.equal(typeof code, "number", `umbra ${names[i]} exited by itself (code ${code})`);
    } finally {
      await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    }
  });

  it("refuses a SHUTDOWN_TIMEOUT_MS that leaves a shard no time for its hand-off", async () => {
    const [nats, redis] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
    try {
      await assert.rejects(
        startService(["shard"], {
          NATS_URL: nats.url,
          REDIS_URL: redis.url,
          SHUTDOWN_TIMEOUT_MS: "5000",
          HANDOFF_TIMEOUT_MS: "10000",
        }),
        /SHUTDOWN_TIMEOUT_MS: must exceed the hand-off/,
      );
    } finally {
      await Promise.all([nats.stop(), redis.stop()]);
    }
  });
});

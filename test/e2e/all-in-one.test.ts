/**
 * `umbra all` runs every service on the process's one Redis connection (and one NATS
 * connection, built by the same kind of Layer), shared instead of one per service.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { startNats, startRedis, startService } from "../src/harness.js";

describe("umbra all", () => {
  it("serves shard, edge and API on one shared Redis connection", async () => {
    const [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const ports = { MQTT_PORT: "0", HTTP_PORT: "0" };
    const umbra = await startService(["all"], {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      ...ports,
    });
    const probe = new Redis(redis.url, { lazyConnect: true });
    try {
      await probe.connect();
      await probe.client("SETNAME", "probe");
      const list = (await probe.client("LIST")) as string;
      const names = list
        .trim()
        .split("\n")
        .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? "")
        .filter((name) => name !== "probe");
      assert.deepEqual(names, ["umbra"]);
    } finally {
      probe.disconnect();
      await umbra.stop();
      await Promise.all([nats.stop(), redis.stop()]);
    }
  });
});

/**
 * Redis stalls (the server frozen: SIGSTOP, or its container paused: connections stay open, nothing is
 * answered) while devices keep writing at QoS 1. The shard's bounded mailboxes say no
 * past ACTOR_MAILBOX_MAX, the edge re-sends what was not acknowledged, so the shard's
 * memory stays bounded; once Redis answers again every write is acknowledged and
 * stored — nothing acknowledged is lost, nothing is lost at all.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { ShadowDocument } from "@umbra/core";
import { connectRedis, type Redis, RedisShadowStore } from "@umbra/store";
import {
  pollUntil,
  type ServiceTier,
  scrapeSample,
  startServiceTier,
  TestDevice,
  withDeadline,
} from "../src/harness.js";

const DEVICES = 10;
const WRITES = 60;
/** 60 keys of this stay well inside the 16 KB document limit (a refused write is no loss). */
const PAD = "x".repeat(100);
const MAILBOX = 4;

let tier: ServiceTier;
let redis: Redis;
const devices: TestDevice[] = [];

/** Resident memory of a process, from /proc (MiB). */
const rssMiB = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
};

const shardMetrics = () => `http://127.0.0.1:${tier.shard.ready.shard?.opsPort}/metrics`;
const shedQos1 = () =>
  scrapeSample(shardMetrics(), 'umbra_shard_commands_shed_total{kind="qos1"}').catch(() => 0);

before(async () => {
  tier = await startServiceTier({
    ACTOR_MAILBOX_MAX: String(MAILBOX),
    COMMAND_RETRY_MS: "300",
    // Long enough that the edge keeps re-sending through the stall instead of giving up.
    COMMAND_DEADLINE_MS: "60000",
  });
  redis = await connectRedis(tier.redis.url, "redis-stall-test");
  const url = `mqtt://127.0.0.1:${tier.edge.ready.edge?.mqttPort}`;
  for (let i = 0; i < DEVICES; i++)
    devices.push(await TestDevice.connect(url, { productId: "stall", deviceName: `d${i}` }));
});

after(async () => {
  await tier?.redis.resume().catch(() => undefined);
  await Promise.allSettled(devices.map((d) => d.close()));
  await redis?.quit();
  await tier?.stop();
});

describe("a Redis stall under QoS 1 writes", () => {
  it("sheds past the mailbox bound with the shard's memory bounded, then stores every write", async () => {
    // Warm: every device has an actor and a shadow.
    await Promise.all(
      devices.map((d, i) =>
        d.client.publishAsync(
          `$sys/stall/d${i}/image/update`,
          JSON.stringify({ state: { reported: { warm: 1 } } }),
          {
            qos: 1,
          },
        ),
      ),
    );
    const shardPid = tier.shard.proc.pid as number;
    const baseline = rssMiB(shardPid);
    const shedBefore = await shedQos1();

    await tier.redis.pause();
    const acked = devices.map((d, i) =>
      Promise.all(
        Array.from({ length: WRITES }, (_, n) =>
          d.client.publishAsync(
            `$sys/stall/d${i}/image/update`,
            JSON.stringify({ state: { reported: { [`k${n}`]: PAD } } }),
            { qos: 1 },
          ),
        ),
      ),
    );
    // The bound is hit again and again: every re-sent command past it is shed anew.
    await pollUntil(async () => (await shedQos1()) - shedBefore >= 5 * DEVICES, {
      timeoutMs: 30_000,
      what: "the shard sheds QoS 1 commands past ACTOR_MAILBOX_MAX while Redis is stalled",
    });
    const during = rssMiB(shardPid);
    // The writes wait in the devices and the edge, not in the shard: what the shard holds
    // is at most MAILBOX commands per device.
    assert.ok(
      during - baseline < 64,
      `the shard grew from ${baseline.toFixed(1)} to ${during.toFixed(1)} MiB during the stall`,
    );

    await tier.redis.resume();
    await withDeadline(
      Promise.all(acked),
      60_000,
      () => "not every write was acknowledged after the stall",
    );

    const store = new RedisShadowStore(redis);
    for (let i = 0; i < DEVICES; i++) {
      const doc = (await store.load(`stall/d${i}`)).doc as ShadowDocument;
      const missing = Array.from({ length: WRITES }, (_, n) => `k${n}`).filter(
        (k) => doc.reported[k] !== PAD,
      );
      assert.deepEqual(missing, [], `d${i} lost acknowledged writes`);
    }
  });
});

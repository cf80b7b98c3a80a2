/**
 * The shard's actors against a real Redis and NATS: two owners of one device (as during
 * a hand-off) never both win a write and lose nothing; an idle actor is dropped from
 * memory and comes back from Redis.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  commandSubject,
  connectBus,
  decodeAcks,
  decodeCommandAnswer,
  encodeCommand,
  encodeCommandBatch,
  type NatsConnection,
  partitionOf,
  ShadowClient,
  type ShadowEvent,
  Tag,
} from "@umbra/bus";
import { defaultLimits, type ShadowDocument } from "@umbra/core";
import { createLogger } from "@umbra/runtime";
import {
  type BatchResult,
  ShadowActor,
  Shard,
  type ShardOptions,
  shardMetrics,
} from "@umbra/shard";
import { connectRedis, type Redis, RedisShadowStore } from "@umbra/store";
import { pollUntil, type Server, startNats, startRedis } from "../src/harness.js";

let nats: Server;
let redisServer: Server;
let redis: Redis;
let nc: NatsConnection;
const logger = createLogger("test", "silent");

before(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  redis = await connectRedis(redisServer.url, "test");
  nc = await connectBus({ url: nats.url, name: "test" });
});

after(async () => {
  await nc?.close();
  await redis?.quit();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

/** A shard serving every partition of 1024 against the test's NATS and Redis, started. */
const startShard = (
  options: Pick<ShardOptions, "shardId" | "actorIdleMs"> & Partial<ShardOptions>,
): Shard => {
  const shard = new Shard(nc, new RedisShadowStore(redis), logger, {
    partitions: 1024,
    owned: Array.from({ length: 1024 }, (_, i) => i),
    limits: defaultLimits,
    ...options,
  });
  shard.start();
  return shard;
};

const update = (n: number) =>
  new TextEncoder().encode(JSON.stringify({ state: { reported: { [`k${n}`]: n } } }));

describe("compare-and-set", () => {
  it("two actors owning one device (a hand-off) both serve it and lose no update", async () => {
    const store = new RedisShadowStore(redis);
    const published: ShadowEvent[] = [];
    const env = {
      store,
      limits: defaultLimits,
      now: Date.now,
      logger,
      maxCasAttempts: 1_000,
      publish: (result: BatchResult) => {
        published.push(...result.events);
      },
    };
    const device = { productId: "cas", deviceName: "two-owners" };
    const owners = [
      new ShadowActor("cas/two-owners", device, 0, env),
      new ShadowActor("cas/two-owners", device, 0, env),
    ];
    const total = 200;
    for (let n = 0; n < total; n++)
      (owners[n % 2] as ShadowActor).enqueue({
        header: { op: "update", device: "cas/two-owners", source: "cloud" },
        payload: update(n),
        reply: undefined,
      });
    await Promise.all(owners.map((o) => o.idle));
    const accepted = published.filter((e) => e.kind === "accepted").length;
    assert.equal(accepted, total);
    const record = await store.load("cas/two-owners");
    const doc = record.doc as ShadowDocument;
    assert.equal(doc.version, total);
    assert.equal(Object.keys(doc.reported).length, total);
    // Every accepted event carries a distinct version: no two writes won the same slot.
    const versions = published.flatMap((e) => (e.kind === "accepted" ? [e.version] : []));
    assert.equal(new Set(versions).size, total);
  });
});

describe("passivation", () => {
  it("drops an idle actor and reloads it from Redis on its next command", async () => {
    const shard = startShard({ shardId: "test-shard", actorIdleMs: 1_000 });
    try {
      await nc.flush();
      const client = new ShadowClient(nc, 1024);
      const first = await client.update("idle/dev", { reported: { a: 1 } });
      assert.equal(first.ok && first.version, 1);
      assert.equal(shard.liveActors, 1);
      await pollUntil(() => shard.liveActors === 0, {
        timeoutMs: 10_000,
        what: "the idle actor is passivated",
      });
      const second = await client.update("idle/dev", { reported: { b: 2 } });
      assert.ok(second.ok);
      assert.equal(second.version, 2);
      assert.deepEqual(second.document?.reported, { a: 1, b: 2 });
    } finally {
      await shard.stop();
    }
  });
});

describe("a partition nobody serves yet", () => {
  it("gets the cloud's command once a shard starts serving it, within the deadline", async () => {
    const client = new ShadowClient(nc, 1024, 10_000);
    const answer = client.update("late/dev", { reported: { early: true } });
    // The command is out and nobody took it (the server says so) before a shard starts.
    await nc.flush();
    const shard = startShard({ shardId: "late-shard", actorIdleMs: 60_000 });
    try {
      const reply = await answer;
      assert.ok(reply.ok, JSON.stringify(reply));
      assert.equal(reply.version, 1);
    } finally {
      await shard.stop();
      client.close();
    }
  });
});

describe("memory bound", () => {
  it("keeps at most MAX_ACTORS actors; a passivated one comes back from Redis", async () => {
    const shard = startShard({ shardId: "test-shard", actorIdleMs: 60_000, maxActors: 10 });
    try {
      await nc.flush();
      const client = new ShadowClient(nc, 1024);
      for (let i = 0; i < 30; i++) {
        const reply = await client.update(`bound/d${i}`, { reported: { first: i } });
        assert.ok(reply.ok);
        assert.ok(shard.liveActors <= 10, `${shard.liveActors} actors after ${i + 1} devices`);
      }
      const again = await client.update("bound/d0", { reported: { second: true } });
      assert.ok(again.ok);
      assert.equal(again.version, 2);
      assert.deepEqual(again.document?.reported, { first: 0, second: true });
    } finally {
      await shard.stop();
    }
  });
});

describe("routing", () => {
  it("refuses a command sent on another partition's subject, and an unreadable frame", async () => {
    const shard = startShard({ shardId: "test-shard", actorIdleMs: 60_000 });
    try {
      await nc.flush();
      const wrong = (partitionOf("route/dev", 1024) + 1) % 1024;
      const frame = encodeCommand(
        { op: "update", device: "route/dev", source: "cloud" },
        update(1),
      );
      const decode = (data: Uint8Array) => decodeCommandAnswer(data) as ReplyJson;
      const misrouted = decode((await nc.request(commandSubject(wrong), frame)).data);
      assert.equal(misrouted.ok, false);
      assert.equal(misrouted.error._tag, "InvalidParameter");
      const garbage = decode((await nc.request(commandSubject(wrong), new Uint8Array([9]))).data);
      assert.equal(garbage.ok, false);
      assert.equal(shard.liveActors, 0);
      // Nothing was written for the misrouted device.
      assert.equal((await new RedisShadowStore(redis).load("route/dev")).rev, 0);
    } finally {
      await shard.stop();
    }
  });
});

describe("bounded mailbox", () => {
  it("sheds commands past ACTOR_MAILBOX_MAX: QoS 1 not acked, QoS 0 dropped, cloud told; all counted", async () => {
    const metrics = shardMetrics();
    const shard = startShard({
      shardId: "shed-shard",
      actorIdleMs: 60_000,
      maxMailbox: 2,
      metrics,
    });
    const inbox = "_INBOX.shed-test";
    const got: Uint8Array[] = [];
    const sub = nc.subscribe(inbox, {
      callback: (_e, msg) => {
        got.push(msg.data);
      },
    });
    try {
      await nc.flush();
      const device = "shed/dev";
      const subject = commandSubject(partitionOf(device, 1024));
      const before = { q0: metrics.shed.qos0.value, q1: metrics.shed.qos1.value };
      const cloudBefore = metrics.shed.cloud.value;
      // One message, so one synchronous dispatch: the first command goes to storage at once,
      // the next two fill the mailbox, the rest are one past the bound each.
      const frame = (n: number, qos1: boolean) =>
        encodeCommand(
          {
            op: "update",
            device,
            dialect: "onenet",
            source: "device",
            ...(qos1 ? { corr: n } : {}),
          },
          update(n),
        );
      const cloud = encodeCommand({ op: "update", device, source: "cloud" }, update(6));
      nc.publish(
        subject,
        encodeCommandBatch([
          frame(1, true),
          frame(2, true),
          frame(3, true),
          frame(4, true),
          frame(5, false),
          frame(7, true),
          cloud,
        ]),
        { reply: inbox },
      );
      await pollUntil(
        async () => metrics.shed.cloud.value > cloudBefore && shard.queuedBytes === 0,
        {
          timeoutMs: 10_000,
          what: "the shard sheds and finishes",
        },
      );
      await nc.flush();
      const acked = got.filter((data) => data[0] === Tag.Acks).flatMap((data) => decodeAcks(data));
      assert.deepEqual(
        [...acked].sort((a, b) => a - b),
        [1, 2, 3],
        "only the commands taken are acked",
      );
      assert.equal(metrics.shed.qos1.value - before.q1, 2, "corr 4 and 7");
      assert.equal(metrics.shed.qos0.value - before.q0, 1);
      const answers = got
        .filter((data) => data[0] === Tag.CommandAnswer)
        .map((data) => decodeCommandAnswer(data) as ReplyJson);
      assert.equal(answers.length, 1);
      assert.equal(answers[0]?.ok, false);
      assert.match(String(answers[0]?.error?.detail), /mailbox is full/);
      const doc = (await new RedisShadowStore(redis).load(device)).doc as ShadowDocument;
      assert.equal(doc.version, 3, "what was shed changed nothing");
    } finally {
      sub.unsubscribe();
      await shard.stop();
    }
  });
});

/** A command answer as read in these tests: any error's fields. */
interface ReplyJson {
  readonly ok: boolean;
  readonly error: { readonly _tag?: string; readonly detail?: string };
}

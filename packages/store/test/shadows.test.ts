/**
 * The shadow store against a real redis-server: the compare-and-set script, its write
 * tokens, tombstones and the dedup ring stored with the document.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createShadow, encodeDocument } from "@umbra/core";
import {
  CorruptRecordError,
  connectRedis,
  DEDUP_CAPACITY,
  DedupRing,
  dedupEntry,
  isTombstone,
  type Redis,
  RedisShadowStore,
  shadowKey,
  type Tombstone,
} from "../src/index.js";
import { startTestRedis, type TestRedis } from "./redis-server.js";

let server: TestRedis;
let redis: Redis;

before(async () => {
  server = await startTestRedis();
  redis = await connectRedis(server.path, "store-test");
});

after(async () => {
  await redis?.quit();
  await server?.stop();
});

const doc = (n: number) => encodeDocument({ ...createShadow("p", "d", n), reported: { n } });

describe("compare-and-set", () => {
  it("refuses a write at a stale rev and leaves the stored record as it was", async () => {
    const store = new RedisShadowStore(redis);
    assert.deepEqual(await store.compareAndSet("cas/stale", 0, doc(1), "1:a:1"), {
      ok: true,
      rev: 1,
    });
    for (const stale of [0, 2, 7])
      assert.deepEqual(
        await store.compareAndSet("cas/stale", stale, doc(2), "2:b:2"),
        { ok: false, rev: 1 },
        `expected rev ${stale}`,
      );
    const record = await store.load("cas/stale");
    assert.equal(record.rev, 1);
    assert.deepEqual(record.doc?.reported, { n: 1 });
    assert.equal(record.dedup, "1:a:1");
  });

  it("lets exactly one of two writers at the same rev win", async () => {
    const store = new RedisShadowStore(redis);
    const results = await Promise.all([
      store.compareAndSet("cas/one", 0, doc(1), ""),
      store.compareAndSet("cas/one", 0, doc(2), ""),
    ]);
    assert.deepEqual(results.map((r) => r.ok).sort(), [false, true]);
    assert.equal((await store.compareAndSet("cas/one", 0, doc(3), "")).rev, 1);
  });

  it("answers 'written' to a call sent again after Redis applied it (its token is stored)", async () => {
    // The same token twice: what ioredis sends when it repeats a call on reconnect.
    const replaying = new RedisShadowStore(redis, () => "t1");
    assert.deepEqual(await replaying.compareAndSet("cas/token", 0, doc(1), ""), {
      ok: true,
      rev: 1,
    });
    assert.deepEqual(
      await replaying.compareAndSet("cas/token", 0, doc(1), ""),
      { ok: true, rev: 1 },
      "the same call, sent again, is answered as written and writes nothing",
    );
    assert.equal((await replaying.load("cas/token")).rev, 1);
    const other = new RedisShadowStore(redis, () => "t2");
    assert.deepEqual(
      await other.compareAndSet("cas/token", 0, doc(2), ""),
      { ok: false, rev: 1 },
      "another writer at the same rev",
    );
    assert.deepEqual(
      await replaying.compareAndSet("cas/token", 0, doc(1), ""),
      { ok: true, rev: 1 },
      "a refused write leaves the token of the last write",
    );
    assert.equal((await replaying.compareAndSet("cas/token", 1, doc(3), "")).rev, 2);
    assert.deepEqual(
      await replaying.compareAndSet("cas/token", 0, doc(1), ""),
      { ok: false, rev: 2 },
      "the token answers only for the write just before: an older call is stale",
    );
  });

  it("gives each write of one store its own token", async () => {
    const store = new RedisShadowStore(redis);
    const tokens = new Set<string | null>();
    for (let rev = 0; rev < 3; rev++) {
      assert.equal((await store.compareAndSet("cas/tokens", rev, doc(rev), "")).ok, true);
      tokens.add(await redis.hget(shadowKey("cas/tokens"), "bt"));
    }
    assert.equal(tokens.size, 3);
  });
});

describe("load", () => {
  it("reads a device that was never written as rev 0 with no document", async () => {
    assert.deepEqual(await new RedisShadowStore(redis).load("load/none"), {
      rev: 0,
      doc: undefined,
      dedup: "",
    });
  });

  it("refuses a record that is not JSON with a CorruptRecordError, never an empty shadow", async () => {
    await redis.hset(shadowKey("load/corrupt"), "rev", 3, "doc", "{not json", "dd", "");
    await assert.rejects(new RedisShadowStore(redis).load("load/corrupt"), CorruptRecordError);
  });
});

describe("tombstones", () => {
  it("store a delete as a write: the rev goes on and a writer that read before it is refused", async () => {
    const store = new RedisShadowStore(redis);
    await store.compareAndSet("tomb/d", 0, doc(1), "");
    const before = await store.load("tomb/d");
    assert.equal(isTombstone(before.doc), false);
    const tombstone: Tombstone = { ...createShadow("tomb", "d", 2), version: 2, deleted: true };
    assert.deepEqual(await store.compareAndSet("tomb/d", 1, encodeDocument(tombstone), ""), {
      ok: true,
      rev: 2,
    });
    const deleted = await store.load("tomb/d");
    assert.equal(deleted.rev, 2);
    assert.equal(isTombstone(deleted.doc), true);
    assert.equal(deleted.doc?.version, 2);
    assert.deepEqual(
      await store.compareAndSet("tomb/d", before.rev, doc(3), ""),
      { ok: false, rev: 2 },
      "a write from before the delete",
    );
    assert.equal(isTombstone(undefined), false);
  });
});

describe("dedup ring stored with the shadow", () => {
  const entry = (id: number) => dedupEntry(id, new TextEncoder().encode(`p${id}`), id);

  it("keeps every entry at its capacity and drops the oldest past it, through a write and a load", async () => {
    const store = new RedisShadowStore(redis);
    const ring = new DedupRing();
    for (let id = 1; id <= DEDUP_CAPACITY; id++) ring.add(entry(id));
    await store.compareAndSet("ring/d", 0, doc(1), ring.serialize());
    const full = new DedupRing((await store.load("ring/d")).dedup);
    assert.equal(full.serialize().split(",").length, DEDUP_CAPACITY);
    for (let id = 1; id <= DEDUP_CAPACITY; id++) assert.ok(full.seen(entry(id), false), `id ${id}`);

    full.add(entry(DEDUP_CAPACITY + 1));
    await store.compareAndSet("ring/d", 1, doc(2), full.serialize());
    const past = new DedupRing((await store.load("ring/d")).dedup);
    assert.equal(past.serialize().split(",").length, DEDUP_CAPACITY);
    assert.ok(!past.seen(entry(1), false), "the oldest went");
    assert.ok(past.seen(entry(2), false));
    assert.ok(past.seen(entry(DEDUP_CAPACITY + 1), false), "the newest is kept");
  });
});

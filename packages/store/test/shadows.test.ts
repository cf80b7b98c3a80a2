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
  listShadowNames,
  namedShadowKey,
  type Redis,
  RedisShadowStore,
  shadowKey,
  shadowNamesKey,
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

describe("named shadows", () => {
  const tomb = (version: number): string =>
    encodeDocument({ ...createShadow("p", "d", version), version, deleted: true } as Tombstone);
  const live = (name: string, maxNames = 10) => ({ name, live: true, maxNames });
  const gone = (name: string) => ({ name, live: false, maxNames: 10 });

  it("live in their own record beside the classic shadow, and join the device's names when written", async () => {
    const store = new RedisShadowStore(redis);
    await store.compareAndSet("named/a", 0, doc(1), "");
    assert.deepEqual(await store.compareAndSet("named/a", 0, doc(2), "", live("lamp")), {
      ok: true,
      rev: 1,
    });
    assert.deepEqual((await store.load("named/a")).doc?.reported, { n: 1 }, "classic untouched");
    const lamp = await store.load("named/a", "lamp");
    assert.equal(lamp.rev, 1);
    assert.deepEqual(lamp.doc?.reported, { n: 2 });
    assert.equal(lamp.names, 1);
    assert.equal(await redis.hget(namedShadowKey("named/a", "lamp"), "rev"), "1");
    assert.deepEqual(await store.load("named/a", "fan"), {
      rev: 0,
      doc: undefined,
      dedup: "",
      names: 1,
    });
    assert.equal((await store.load("named/a")).names, undefined, "the classic load counts nothing");
    // A stale named write is refused like a classic one, and adds no name.
    assert.deepEqual(await store.compareAndSet("named/a", 0, doc(3), "", live("lamp")), {
      ok: false,
      rev: 1,
    });
    await store.compareAndSet("named/a", 0, doc(4), "", live("$fan:1"));
    assert.deepEqual(await store.listShadowNames("named/a"), ["$fan:1", "lamp"]);
    assert.deepEqual(await listShadowNames(redis, "named/none"), []);
  });

  it("leave the device's names when a tombstone is stored, and join again when written after it", async () => {
    const store = new RedisShadowStore(redis);
    await store.compareAndSet("named/t", 0, doc(1), "", live("lamp"));
    await store.compareAndSet("named/t", 0, doc(1), "", live("fan"));
    assert.deepEqual(await store.compareAndSet("named/t", 1, tomb(2), "", gone("lamp")), {
      ok: true,
      rev: 2,
    });
    assert.deepEqual(await store.listShadowNames("named/t"), ["fan"]);
    const deleted = await store.load("named/t", "lamp");
    assert.equal(isTombstone(deleted.doc), true, "the tombstone keeps the version line");
    assert.equal(deleted.doc?.version, 2);
    assert.equal(deleted.names, 1);
    await store.compareAndSet("named/t", 2, doc(3), "", live("lamp"));
    assert.deepEqual(await store.listShadowNames("named/t"), ["fan", "lamp"]);
  });

  it("refuse a write creating one past the most names a device may have, and take one at it", async () => {
    const store = new RedisShadowStore(redis);
    const max = 3;
    for (const name of ["a", "b"])
      assert.equal(
        (await store.compareAndSet("named/max", 0, doc(1), "", live(name, max))).ok,
        true,
      );
    assert.deepEqual(
      await store.compareAndSet("named/max", 0, doc(1), "", live("c", max)),
      { ok: true, rev: 1 },
      "the third, at the bound",
    );
    assert.deepEqual(
      await store.compareAndSet("named/max", 0, doc(1), "", live("d", max)),
      { ok: false, rev: 0, tooManyNames: true, names: 3 },
      "a fourth, past it",
    );
    assert.equal(await redis.exists(namedShadowKey("named/max", "d")), 0, "nothing written");
    assert.equal(await redis.scard(shadowNamesKey("named/max")), 3);
    // One that exists can still be written, and a deletion makes room.
    assert.equal((await store.compareAndSet("named/max", 1, doc(2), "", live("a", max))).ok, true);
    assert.equal((await store.compareAndSet("named/max", 1, tomb(2), "", gone("b"))).ok, true);
    assert.equal((await store.compareAndSet("named/max", 0, doc(1), "", live("d", max))).ok, true);
    assert.deepEqual(await store.listShadowNames("named/max"), ["a", "c", "d"]);
  });

  it("answer 'written' to a named write sent again after Redis applied it", async () => {
    const replaying = new RedisShadowStore(redis, () => "named-t1");
    assert.deepEqual(await replaying.compareAndSet("named/r", 0, doc(1), "", live("lamp", 1)), {
      ok: true,
      rev: 1,
    });
    assert.deepEqual(await replaying.compareAndSet("named/r", 0, doc(1), "", live("lamp", 1)), {
      ok: true,
      rev: 1,
    });
    assert.deepEqual(await replaying.listShadowNames("named/r"), ["lamp"]);
  });
});

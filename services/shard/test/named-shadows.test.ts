/**
 * Named shadows and AWS requests through a `ShadowActor`: one actor per shadow, the
 * events' shadow / clientToken / previous, a device's delete, and the bound on a
 * device's named shadows. The store is an in-memory stand-in with `RedisShadowStore`'s
 * rules (its Lua scripts are tested against a real redis-server in packages/store).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandHeader, ShadowEvent } from "@umbra/bus";
import { defaultLimits } from "@umbra/core";
import type { DialectName } from "@umbra/dialects";
import { createLogger } from "@umbra/runtime";
import type { CasOutcome, ShadowRecord, ShadowStore } from "@umbra/store";
import { actorKey, type QueuedCommand, ShadowActor } from "../src/actor.js";

const logger = createLogger("named-shadows-test", "silent");
const DEVICE = "p/thing1";

/** Records per (device, shadow) and each device's set of live names, bounded in the write. */
const memoryStore = () => {
  const records = new Map<string, { rev: number; doc: string; dedup: string }>();
  const names = new Map<string, Set<string>>();
  const counts = { loads: 0 };
  const keyOf = (device: string, shadow: string | undefined) => actorKey(device, shadow);
  const store: ShadowStore = {
    load: async (device, shadow): Promise<ShadowRecord> => {
      counts.loads++;
      const record = records.get(keyOf(device, shadow));
      const loaded =
        record === undefined
          ? { rev: 0, doc: undefined, dedup: "" }
          : { rev: record.rev, doc: JSON.parse(record.doc), dedup: record.dedup };
      return shadow === undefined ? loaded : { ...loaded, names: names.get(device)?.size ?? 0 };
    },
    compareAndSet: async (device, expected, doc, dedup, shadow): Promise<CasOutcome> => {
      const key = keyOf(device, shadow?.name);
      const rev = records.get(key)?.rev ?? 0;
      if (rev !== expected) return { ok: false, rev };
      if (shadow !== undefined) {
        const set = names.get(device) ?? new Set<string>();
        names.set(device, set);
        if (!shadow.live) set.delete(shadow.name);
        else if (!set.has(shadow.name)) {
          if (set.size >= shadow.maxNames)
            return { ok: false, rev, tooManyNames: true, names: set.size };
          set.add(shadow.name);
        }
      }
      records.set(key, { rev: rev + 1, doc, dedup });
      return { ok: true, rev: rev + 1 };
    },
  };
  return { store, records, names, counts };
};

type Store = ReturnType<typeof memoryStore>;

/** An actor of `shadow` (classic when undefined) over `store`, and the events it published. */
const actorOf = (store: Store, shadow?: string, maxNamedShadows?: number) => {
  const events: ShadowEvent[] = [];
  const actor = new ShadowActor(
    DEVICE,
    { productId: "p", deviceName: "thing1" },
    0,
    {
      store: store.store,
      limits: defaultLimits,
      now: () => 1_700_000_000_000,
      logger,
      maxCasAttempts: 5,
      publish: (result) => events.push(...result.events),
      ...(maxNamedShadows === undefined ? {} : { maxNamedShadows }),
    },
    shadow,
  );
  /** Runs one command and answers its event. */
  const send = async (
    op: CommandHeader["op"],
    payload: unknown,
    dialect: DialectName | undefined = "aws",
  ): Promise<ShadowEvent> => {
    const header: CommandHeader = {
      op,
      device: DEVICE,
      dialect,
      source: dialect === undefined ? "cloud" : "device",
      shadow,
    };
    const before = events.length;
    const command: QueuedCommand = {
      header,
      payload:
        payload instanceof Uint8Array
          ? payload
          : new TextEncoder().encode(payload === "" ? "" : JSON.stringify(payload)),
      reply: dialect === undefined ? undefined : "umbra.edge.e1",
    };
    assert.equal(actor.enqueue(command), true);
    await actor.idle;
    assert.equal(events.length, before + 1, "one event per command");
    return events[before] as ShadowEvent;
  };
  return { actor, send };
};

const report = (n: number, clientToken?: string) => ({
  state: { reported: { n } },
  ...(clientToken === undefined ? {} : { clientToken }),
});

const errorTag = (event: ShadowEvent): string | undefined =>
  event.kind === "rejected" ? event.error._tag : undefined;

describe("named shadows: one actor per shadow", () => {
  it("keeps a named shadow apart from the classic one: own record, own versions, events naming it", async () => {
    const store = memoryStore();
    const classic = actorOf(store);
    const lamp = actorOf(store, "lamp");
    assert.equal(classic.actor.key, DEVICE);
    assert.equal(lamp.actor.key, `${DEVICE}\u0000lamp`);
    assert.equal(lamp.actor.deviceKey, DEVICE);
    for (let n = 1; n <= 3; n++) await classic.send("update", report(n), "onenet");
    const named = await lamp.send("update", report(9, "t1"));
    assert.equal(named.kind, "accepted");
    assert.equal(named.shadow, "lamp");
    assert.equal(named.device, DEVICE);
    if (named.kind === "accepted") assert.equal(named.version, 1, "its own version line");
    const got = await classic.send("get", "", "onenet");
    assert.equal(got.shadow, undefined);
    if (got.kind === "document") assert.deepEqual(got.document.reported, { n: 3 });
    assert.deepEqual([...store.records.keys()].sort(), [DEVICE, `${DEVICE}\u0000lamp`]);
    assert.deepEqual([...(store.names.get(DEVICE) ?? [])], ["lamp"]);
  });
});

describe("AWS requests", () => {
  it("carry the clientToken on accepted, read and rejected events; an update's version is the expected one (409)", async () => {
    const { send } = actorOf(memoryStore());
    const first = await send("update", report(1, "u1"));
    assert.equal(first.kind, "accepted");
    assert.equal(first.clientToken, "u1");
    const stale = await send("update", { ...report(2, "u2"), version: 7 });
    assert.equal(errorTag(stale), "VersionConflict");
    assert.equal(stale.clientToken, "u2");
    const atVersion = await send("update", { ...report(3, "u3"), version: 1 });
    assert.equal(atVersion.kind, "accepted");
    const get = await send("get", { clientToken: "g1", version: 1 });
    assert.equal(get.kind, "document");
    assert.equal(get.clientToken, "g1");
    const refused = await send("update", { state: "no", clientToken: "bad" });
    assert.equal(refused.kind, "rejected");
    assert.equal(refused.clientToken, "bad", "a refusal of the reader echoes the token too");
  });

  it("answer a get of a shadow that does not exist, named or classic, with ShadowNotFound and the token", async () => {
    const store = memoryStore();
    for (const shadow of [undefined, "ghost"]) {
      const get = await actorOf(store, shadow).send("get", { clientToken: "g" });
      assert.equal(errorTag(get), "ShadowNotFound");
      assert.equal(get.clientToken, "g");
      assert.equal(get.shadow, shadow);
    }
  });

  it("delete a shadow ignoring the payload's version; a second delete and a get are ShadowNotFound; writes go on from the next version", async () => {
    const store = memoryStore();
    for (const shadow of [undefined, "lamp"]) {
      const { send } = actorOf(store, shadow);
      await send("update", report(1));
      await send("update", report(2));
      const deleted = await send("delete", { version: 99, clientToken: "d1" });
      assert.equal(deleted.kind, "accepted", "v1's version on a delete is ignored");
      assert.equal(deleted.op, "delete");
      assert.equal(deleted.clientToken, "d1");
      assert.equal(deleted.shadow, shadow);
      if (deleted.kind === "accepted") assert.equal(deleted.version, 3);
      const again = await send("delete", { clientToken: "d2" });
      assert.equal(errorTag(again), "ShadowNotFound");
      assert.equal(again.clientToken, "d2");
      assert.equal(errorTag(await send("get", "")), "ShadowNotFound");
      const after = await send("update", report(3));
      if (after.kind === "accepted") assert.equal(after.version, 4, "the version line is kept");
      else assert.fail("the write after a delete was refused");
    }
    assert.deepEqual([...(store.names.get(DEVICE) ?? [])], ["lamp"]);
  });
});

describe("documents for AWS update/documents", () => {
  it("are not on a classic shadow's events until an AWS sync says a session hears update/documents; any AWS command marks events awsListens", async () => {
    const { send } = actorOf(memoryStore());
    const plain = await send("update", report(1), "onenet");
    assert.equal(plain.kind, "accepted");
    if (plain.kind !== "accepted") return;
    assert.equal(plain.previous, undefined, "the hot path carries no documents");
    assert.equal(plain.document, undefined);
    assert.equal(plain.desiredUnchanged, undefined);
    assert.equal(plain.awsListens, undefined, "nor the AWS mark");
    // An AWS request, or a sync for filters that hear update/accepted only: the mark.
    const listens = await send("sync", new Uint8Array([0]));
    assert.equal(listens.kind, "document", "a sync is a read");
    const marked = await send("update", report(1.5), "onenet");
    if (marked.kind !== "accepted") return assert.fail("refused");
    assert.equal(marked.awsListens, true);
    assert.equal(marked.previous, undefined, "no documents without a documents subscriber");
    const sync = await send("sync", new Uint8Array([1]));
    assert.equal(sync.kind, "document", "a sync is a read");
    const watched = await send("update", report(2), "onenet");
    if (watched.kind !== "accepted") return assert.fail("refused");
    assert.deepEqual(watched.previous?.reported, { n: 1.5 });
    assert.deepEqual(watched.document?.reported, { n: 2 });
    assert.equal(watched.desiredUnchanged, true, "a report left desired alone");
    const cloud = await send("update", { state: { desired: { n: 5 } } }, undefined);
    if (cloud.kind !== "accepted") return assert.fail("refused");
    assert.deepEqual(cloud.previous?.reported, { n: 2 });
    assert.deepEqual(cloud.document?.desired, { n: 5 });
    assert.equal(cloud.desiredUnchanged, undefined, "desired changed");
  });

  it("are on every accepted write of a named shadow, the first one included", async () => {
    const { send } = actorOf(memoryStore(), "lamp");
    const cloud = await send("update", { state: { reported: { n: 1 } } }, undefined);
    if (cloud.kind !== "accepted") return assert.fail("refused");
    assert.notEqual(cloud.previous, undefined);
    assert.deepEqual(cloud.document?.reported, { n: 1 });
  });
});

describe("a device's named shadows are bounded", () => {
  it("create them up to the bound and refuse one past it (400, the token echoed) until one is deleted", async () => {
    const store = memoryStore();
    const max = 2;
    for (const name of ["a", "b"])
      assert.equal((await actorOf(store, name, max).send("update", report(1))).kind, "accepted");
    const c = actorOf(store, "c", max);
    const refused = await c.send("update", report(1, "c1"));
    assert.equal(errorTag(refused), "InvalidParameter");
    if (refused.kind === "rejected")
      assert.match(JSON.stringify(refused.error), /2 named shadows, the most it may have/);
    assert.equal(refused.clientToken, "c1");
    assert.equal(store.records.has(`${DEVICE}\u0000c`), false, "nothing written");
    // An existing one still takes writes; a delete makes room.
    assert.equal((await actorOf(store, "a", max).send("update", report(2))).kind, "accepted");
    assert.equal((await actorOf(store, "b", max).send("delete", "")).kind, "accepted");
    assert.equal((await c.send("update", report(1))).kind, "accepted");
    assert.deepEqual([...(store.names.get(DEVICE) ?? [])].sort(), ["a", "c"]);
    // The actor counts its own delete and re-creation: no read of the count again.
    const loads = store.counts.loads;
    assert.equal((await c.send("delete", "")).kind, "accepted");
    assert.equal((await c.send("update", report(2))).kind, "accepted");
    assert.equal(store.counts.loads, loads);
  });

  it("refuse a creation that a sibling's creation made one too many after this actor counted", async () => {
    const store = memoryStore();
    const max = 2;
    await actorOf(store, "a", max).send("update", report(1));
    const late = actorOf(store, "late", max);
    // Loaded while one name existed…
    assert.equal(errorTag(await late.send("get", "")), "ShadowNotFound");
    // …then a sibling takes the last free name.
    assert.equal((await actorOf(store, "b", max).send("update", report(1))).kind, "accepted");
    const refused = await late.send("update", report(1, "l1"));
    assert.equal(errorTag(refused), "InvalidParameter", "the write's own check catches it");
    assert.equal(refused.clientToken, "l1");
    assert.deepEqual([...(store.names.get(DEVICE) ?? [])].sort(), ["a", "b"]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandHeader } from "@umbra/bus";
import { defaultLimits } from "@umbra/core";
import { createLogger } from "@umbra/runtime";
import type { ShadowStore } from "@umbra/store";
import {
  type ActorEnvironment,
  type BatchResult,
  type QueuedBytes,
  type QueuedCommand,
  ShadowActor,
} from "../src/actor.js";

/** A store whose first load waits until the test lets it go: the mailbox fills meanwhile. */
const stalledStore = () => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let rev = 0;
  const store: ShadowStore = {
    load: async () => {
      await released;
      return { doc: undefined, rev, dedup: "" };
    },
    compareAndSet: async () => ({ ok: true, rev: ++rev }),
  };
  return { store, release };
};

const header: CommandHeader = { op: "update", device: "p/d", dialect: "onenet", source: "device" };
const update = (n: number, size = 0): QueuedCommand => ({
  header,
  payload: new TextEncoder().encode(
    JSON.stringify({ state: { reported: { n, pad: "x".repeat(size) } } }),
  ),
  reply: undefined,
});

const actorWith = (store: ShadowStore, bounds: Partial<ActorEnvironment>) => {
  const results: BatchResult[] = [];
  const env: ActorEnvironment = {
    store,
    limits: defaultLimits,
    now: Date.now,
    logger: createLogger("test", "silent"),
    maxCasAttempts: 5,
    publish: (result) => results.push(result),
    ...bounds,
  };
  return { actor: new ShadowActor("p/d", { productId: "p", deviceName: "d" }, 0, env), results };
};

describe("bounded mailbox", () => {
  it("takes commands up to ACTOR_MAILBOX_MAX while a write is in flight and refuses the next", async () => {
    const { store, release } = stalledStore();
    const { actor, results } = actorWith(store, { maxMailbox: 3 });
    // The first starts processing at once (its batch leaves the mailbox)…
    assert.equal(actor.enqueue(update(0)), true);
    // …the next three wait, the fourth is one past the bound.
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => actor.enqueue(update(n))),
      [true, true, true, false],
    );
    release();
    await actor.idle;
    const versions = results.flatMap((r) =>
      r.events.flatMap((e) => (e.kind === "accepted" ? [e.version] : [])),
    );
    assert.deepEqual(versions, [1, 2, 3, 4], "every command taken was applied, in order");
    // Drained: room again.
    assert.equal(actor.enqueue(update(5)), true);
    await actor.idle;
  });

  it("refuses a command that would take the shard's queued bytes past their bound, and frees them once applied", async () => {
    const { store, release } = stalledStore();
    const first = update(0, 100);
    const size = first.payload.length;
    const queued: QueuedBytes = { bytes: 0, max: 3 * size };
    const { actor } = actorWith(store, { queued });
    assert.equal(actor.enqueue(first), true);
    assert.equal(actor.enqueue(update(1, 100)), true);
    assert.equal(actor.enqueue(update(2, 100)), true, "exactly at the bound");
    assert.equal(queued.bytes, 3 * size);
    assert.equal(actor.enqueue(update(3, 101)), false, "one byte past it");
    assert.equal(actor.enqueue(update(4, 0)), false);
    release();
    await actor.idle;
    assert.equal(queued.bytes, 0);
    assert.equal(actor.enqueue(update(5, 100)), true);
    await actor.idle;
  });
});

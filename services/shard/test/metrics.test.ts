import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultLimits } from "@umbra/core";
import { createLogger } from "@umbra/runtime";
import type { CasOutcome, ShadowRecord, ShadowStore } from "@umbra/store";
import { type QueuedCommand, ShadowActor, shardMetrics } from "../src/index.js";

const metrics = shardMetrics();
const logger = createLogger("shard-metrics-test", "silent");

/** A store whose first `conflicts` compare-and-sets find the shadow changed; or that is down. */
const fakeStore = (conflicts: number, down = false): ShadowStore => {
  let left = conflicts;
  let rev = 0;
  return {
    load: async (): Promise<ShadowRecord> => {
      if (down) throw new Error("connection refused");
      return { rev, doc: undefined, dedup: "" };
    },
    compareAndSet: async (): Promise<CasOutcome> => {
      if (left > 0) {
        left--;
        return { ok: false, rev: rev + 1 };
      }
      rev++;
      return { ok: true, rev };
    },
  };
};

const update = (n: number): QueuedCommand => ({
  header: { op: "update", device: "p/d", dialect: "onenet", source: "device" },
  payload: new TextEncoder().encode(JSON.stringify({ state: { reported: { n } } })),
  reply: undefined,
  arrivedAt: performance.now(),
});

/** Runs `commands` through one actor over `store`; what the counters moved by. */
const run = async (store: ShadowStore, commands: QueuedCommand[], maxCasAttempts = 5) => {
  const read = () => ({
    accepted: metrics.ops.update.accepted.value,
    rejected: metrics.ops.update.rejected.value,
    timed: metrics.ops.update.duration.count,
    conflicts: metrics.casConflicts.value,
    retries: metrics.casRetries.value,
  });
  const before = read();
  const actor = new ShadowActor("p/d", { productId: "p", deviceName: "d" }, 0, {
    store,
    limits: defaultLimits,
    now: Date.now,
    logger,
    maxCasAttempts,
    publish: () => {},
    metrics,
  });
  for (const command of commands) actor.enqueue(command);
  await actor.idle;
  const after = read();
  return Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]),
  );
};

describe("shard metrics", () => {
  it("count a write, its latency, and a compare-and-set conflict that was retried", async () => {
    assert.deepEqual(await run(fakeStore(1), [update(1)]), {
      accepted: 1,
      rejected: 0,
      timed: 1,
      conflicts: 1,
      retries: 1,
    });
  });

  it("count a batch refused after its last attempt as rejected, once per command", async () => {
    assert.deepEqual(await run(fakeStore(10), [update(1)], 2), {
      accepted: 0,
      rejected: 1,
      timed: 1,
      conflicts: 2,
      retries: 1,
    });
  });

  it("count commands refused because storage is down as rejected", async () => {
    assert.deepEqual(await run(fakeStore(0, true), [update(1), update(2)]), {
      accepted: 0,
      rejected: 2,
      timed: 2,
      conflicts: 0,
      retries: 0,
    });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEDUP_CAPACITY, DedupRing, dedupEntry } from "../src/index.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("DedupRing", () => {
  it("knows a DUP of an applied publish (same packet id and payload), from any edge", () => {
    const ring = new DedupRing();
    ring.add(dedupEntry(1, bytes("a"), 7));
    assert.ok(ring.seen(dedupEntry(1, bytes("a"), 7), true));
    assert.ok(ring.seen(dedupEntry(1, bytes("a"), 99), true), "the device resent it elsewhere");
    assert.ok(!ring.seen(dedupEntry(1, bytes("b"), 7), true));
    assert.ok(!ring.seen(dedupEntry(2, bytes("a"), 7), true));
  });

  it("knows an original whose edge's copy was applied first, not a reused packet id", () => {
    const ring = new DedupRing();
    ring.add(dedupEntry(1, bytes("a"), 7));
    assert.ok(ring.seen(dedupEntry(1, bytes("a"), 7), false), "same correlation id");
    assert.ok(!ring.seen(dedupEntry(1, bytes("a"), 8), false), "a new publish reusing id 1");
    assert.ok(!ring.seen(dedupEntry(1, bytes("a"), undefined), false));
  });

  it("keeps one entry per packet id, the newest, and at most its capacity", () => {
    const ring = new DedupRing();
    ring.add(dedupEntry(1, bytes("a"), 1));
    ring.add(dedupEntry(1, bytes("b"), 2));
    assert.ok(!ring.seen(dedupEntry(1, bytes("a"), 1), true));
    for (let id = 2; id < DEDUP_CAPACITY + 10; id++) ring.add(dedupEntry(id, bytes("x"), id));
    const restored = new DedupRing(ring.serialize());
    assert.equal(ring.serialize().split(",").length, DEDUP_CAPACITY);
    assert.ok(restored.seen(dedupEntry(DEDUP_CAPACITY + 9, bytes("x"), 0), true));
    assert.ok(!restored.seen(dedupEntry(1, bytes("b"), 2), true));
  });
});

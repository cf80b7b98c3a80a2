import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandHeader } from "@umbra/bus";
import { defaultLimits } from "@umbra/core";
import { DEDUP_CAPACITY, DedupRing, dedupEntry, runCommand } from "../src/index.js";

const device = { productId: "p", deviceName: "d" };
const header = (op: "update" | "get", source: "device" | "cloud" = "device"): CommandHeader => ({
  op,
  device: "p/d",
  dialect: "onenet",
  source,
});
const bytes = (s: string) => new TextEncoder().encode(s);

describe("runCommand", () => {
  it("creates the shadow on the first write and reports the delta with its metadata", () => {
    const out = runCommand(
      undefined,
      device,
      header("update"),
      bytes('{"state":{"desired":{"color":"green"},"reported":{"color":"red"}}}'),
      1_469_574_492_000,
      defaultLimits,
    );
    assert.equal(out.changed, true);
    assert.equal(out.doc?.version, 1);
    assert.equal(out.event.kind, "accepted");
    if (out.event.kind !== "accepted") return;
    assert.deepEqual(out.event.delta, { color: "green" });
    assert.equal(
      (out.event.deltaMetadata as unknown as { color: { timestamp: number } }).color.timestamp,
      1_469_574_492_000,
    );
  });

  it("refuses a read of a device with no shadow (167) and changes nothing on bad input", () => {
    const get = runCommand(undefined, device, header("get"), new Uint8Array(), 0, defaultLimits);
    assert.equal(get.event.kind, "rejected");
    if (get.event.kind === "rejected") assert.equal(get.event.error._tag, "ShadowNotFound");
    const bad = runCommand(undefined, device, header("update"), bytes("{nope"), 0, defaultLimits);
    assert.equal(bad.changed, false);
    assert.equal(bad.doc, undefined);
    if (bad.event.kind === "rejected") assert.equal(bad.event.error._tag, "InvalidJson");
  });

  it("answers a read with the document as it stands", () => {
    const write = runCommand(
      undefined,
      device,
      header("update"),
      bytes('{"state":{"reported":{"a":1}}}'),
      5,
      defaultLimits,
    );
    const read = runCommand(write.doc, device, header("get"), new Uint8Array(), 6, defaultLimits);
    assert.equal(read.changed, false);
    assert.equal(read.event.kind, "document");
    if (read.event.kind === "document") assert.deepEqual(read.event.document.reported, { a: 1 });
  });
});

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

  it("still reads entries stored before correlation ids were recorded", () => {
    const ring = new DedupRing("1:abc");
    assert.ok(ring.seen("1:abc:7", true));
    assert.ok(!ring.seen("1:abc:7", false));
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

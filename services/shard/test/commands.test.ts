import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandHeader } from "@umbra/bus";
import { applyUpdate, defaultLimits, type ShadowDocument } from "@umbra/core";
import { runCommand } from "../src/index.js";

const device = { productId: "p", deviceName: "d" };
const header = (op: "update" | "get", source: "device" | "cloud" = "device"): CommandHeader => ({
  op,
  device: "p/d",
  dialect: "onenet",
  source,
});
const bytes = (s: string) => new TextEncoder().encode(s);
/** One command against `doc` with the default limits, as the actor runs it. */
const run = (
  doc: ShadowDocument | undefined,
  header: CommandHeader,
  payload: Uint8Array,
  now: number,
) => runCommand({ doc, device, header, payload, now, limits: defaultLimits, origin: undefined });

describe("runCommand", () => {
  it("creates the shadow on the first write and reports the delta with its metadata", () => {
    const out = run(
      undefined,
      header("update"),
      bytes('{"state":{"desired":{"color":"green"},"reported":{"color":"red"}}}'),
      1_469_574_492_000,
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
    const get = run(undefined, header("get"), new Uint8Array(), 0);
    assert.equal(get.event.kind, "rejected");
    if (get.event.kind === "rejected") assert.equal(get.event.error._tag, "ShadowNotFound");
    const bad = run(undefined, header("update"), bytes("{nope"), 0);
    assert.equal(bad.changed, false);
    assert.equal(bad.doc, undefined);
    if (bad.event.kind === "rejected") assert.equal(bad.event.error._tag, "InvalidJson");
  });

  it("answers a read with the document as it stands", () => {
    const write = run(undefined, header("update"), bytes('{"state":{"reported":{"a":1}}}'), 5);
    const read = run(write.doc, header("get"), new Uint8Array(), 6);
    assert.equal(read.changed, false);
    assert.equal(read.event.kind, "document");
    if (read.event.kind === "document") assert.deepEqual(read.event.document.reported, { a: 1 });
  });
});

describe("runCommand: cloud callers' delete, twin patch and expected version", () => {
  const cloud = (op: "update" | "get" | "delete" | "twin"): CommandHeader => ({
    op,
    device: "p/d",
    source: "cloud",
  });
  const write = (doc: ShadowDocument | undefined, body: object, now = 1) =>
    run(doc, cloud("update"), bytes(JSON.stringify(body)), now);

  it("applies an update only at the expected version", () => {
    const first = write(undefined, { state: { desired: { a: 1 } }, version: 0 });
    assert.equal(first.doc?.version, 1);
    const stale = write(first.doc, { state: { desired: { a: 2 } }, version: 0 });
    assert.equal(stale.changed, false);
    assert.equal(stale.event.kind === "rejected" && stale.event.error._tag, "VersionConflict");
    const bad = write(first.doc, { state: { desired: { a: 2 } }, version: "1" });
    assert.equal(bad.event.kind === "rejected" && bad.event.error._tag, "InvalidVersion");
    assert.equal(write(first.doc, { state: { desired: { a: 2 } }, version: 1 }).doc?.version, 2);
  });

  it("ignores a version field in a device's update (OneNET has none)", () => {
    const out = run(
      undefined,
      header("update"),
      bytes('{"state":{"reported":{"a":1}},"version":9}'),
      1,
    );
    assert.equal(out.doc?.version, 1);
  });

  it("deletes: reads find no shadow, a stale version is refused, writes go on from the next version", () => {
    const made = write(undefined, { state: { desired: { a: 1 } } });
    const stale = run(made.doc, cloud("delete"), bytes('{"version":0}'), 2);
    assert.equal(stale.changed, false);
    const deleted = run(made.doc, cloud("delete"), bytes('{"version":1}'), 2);
    assert.equal(deleted.changed, true);
    assert.equal(deleted.event.kind, "accepted");
    const read = run(deleted.doc, cloud("get"), new Uint8Array(), 3);
    assert.equal(read.event.kind === "rejected" && read.event.error._tag, "ShadowNotFound");
    const again = run(deleted.doc, cloud("delete"), new Uint8Array(), 3);
    assert.equal(again.event.kind === "rejected" && again.event.error._tag, "ShadowNotFound");
    const after = write(deleted.doc, { state: { desired: { b: 2 } } }, 4);
    assert.deepEqual(after.doc?.desired, { b: 2 });
    assert.equal(after.doc?.version, 3);
    assert.equal((after.doc as { deleted?: boolean }).deleted, undefined);
  });

  it("judges an expected version with its epoch: the old epoch's number never matches after a reset", () => {
    // Epoch 0 up to version 2, then an Alibaba device's -1 and one more write: epoch 1, version 1.
    const v2 = write(write(undefined, { state: { desired: { a: 1 } } }).doc, {
      state: { desired: { a: 2 } },
    }).doc;
    assert.equal(v2?.version, 2);
    const reset = applyUpdate(
      v2 as ShadowDocument,
      { reported: { r: 1 }, source: "device", version: { kind: "newer", version: -1 } },
      { now: 3 },
    );
    assert.ok(reset.ok);
    const doc = write(reset.value.doc, { state: { desired: { a: 3 } } }, 4).doc;
    assert.deepEqual([doc?.epoch, doc?.version], [1, 1]);
    const refused = (out: ReturnType<typeof runCommand>) =>
      out.event.kind === "rejected" ? out.event.error : undefined;
    // Version 1 of epoch 0 (an ETag taken before the reset) is refused everywhere.
    const stale = { version: 1, epoch: 0 };
    assert.equal(
      refused(write(doc, { state: { desired: { a: 9 } }, ...stale }))?._tag,
      "VersionConflict",
    );
    const del = (body: object) => run(doc, cloud("delete"), bytes(JSON.stringify(body)), 5);
    assert.deepEqual(refused(del(stale)), {
      _tag: "VersionConflict",
      expected: 1,
      current: 1,
      expectedEpoch: 0,
      currentEpoch: 1,
    });
    const patch = [{ op: "add", path: "/c1/target", value: 21 }];
    const twinStale = run(doc, cloud("twin"), bytes(JSON.stringify({ patch, ...stale })), 5);
    assert.equal(refused(twinStale)?._tag, "VersionConflict");
    assert.equal(
      refused(write(doc, { state: { desired: { a: 9 } }, version: 1, epoch: -1 }))?._tag,
      "InvalidVersion",
    );
    // The current pair is accepted; a delete keeps the epoch, so writes go on in it.
    assert.equal(
      write(doc, { state: { desired: { a: 9 } }, version: 1, epoch: 1 }).doc?.version,
      2,
    );
    const deleted = del({ version: 1, epoch: 1 });
    assert.equal(deleted.changed, true);
    const after = write(deleted.doc, { state: { desired: { b: 1 } } }, 6).doc;
    assert.deepEqual([after?.epoch, after?.version], [1, 3]);
  });

  it("deletes a shadow at the largest safe version into the next epoch at version 0", () => {
    const top = {
      ...(write(undefined, { state: { desired: { a: 1 } } }).doc as ShadowDocument),
      version: Number.MAX_SAFE_INTEGER,
    };
    const deleted = run(top, cloud("delete"), new Uint8Array(), 2);
    assert.deepEqual([deleted.doc?.epoch, deleted.doc?.version], [1, 0]);
    const after = write(deleted.doc, { state: { desired: { b: 1 } } }, 3).doc;
    assert.deepEqual([after?.epoch, after?.version], [1, 1]);
  });

  it("applies a twin patch as a cloud write, and refuses a non-conformant one", () => {
    const twin = (doc: ShadowDocument | undefined, patch: unknown) =>
      run(doc, cloud("twin"), bytes(JSON.stringify({ patch })), 5);
    const added = twin(undefined, [{ op: "add", path: "/c1/target", value: 21 }]);
    assert.deepEqual(added.doc?.desired, { c1: { target: 21 } });
    assert.equal(added.event.kind === "accepted" && added.event.delta !== undefined, true);
    const bad = twin(added.doc, [{ op: "add", path: "/c1/_x", value: 1 }]);
    assert.equal(bad.changed, false);
    assert.equal(bad.event.kind === "rejected" && bad.event.error._tag, "TwinNotConformant");
  });

  it("takes a device's writable-property ack into the twin once the shadow has one", () => {
    const added = run(
      undefined,
      cloud("twin"),
      bytes(JSON.stringify({ patch: [{ op: "add", path: "/c1/target", value: 21 }] })),
      5,
    );
    const ack = run(
      added.doc,
      header("update"),
      bytes('{"state":{"reported":{"c1":{"target":{"value":21,"ac":200,"av":1}}}}}'),
      6,
    );
    assert.deepEqual(ack.doc?.reported, { c1: { target: 21 } });
    assert.deepEqual(ack.doc?.metadata.twin?.acks?.["/c1/target"], {
      code: 200,
      version: 1,
      timestamp: 6,
    });
  });
});

describe("runCommand: function calls (seed 001)", () => {
  const cloudFn: CommandHeader = {
    op: "function",
    device: "p/d",
    source: "cloud",
  };
  const fn = (doc: ShadowDocument | undefined, body: unknown, now: number) =>
    run(doc, cloudFn, bytes(JSON.stringify(body)), now);
  const report = (doc: ShadowDocument | undefined, reported: object, now: number) =>
    run(doc, header("update"), bytes(JSON.stringify({ state: { reported } })), now);
  type Fn = { requestId: string; status: string; funcKey: string; isOnline: boolean };
  const shown = (doc: ShadowDocument | undefined) =>
    (doc?.desired as { _function?: Fn } | undefined)?._function;

  it("queues calls in order; the delta carries the head of the queue until it is answered", () => {
    const first = fn(undefined, { queue: { funcKey: "setTemp", params: { target: 24 } } }, 1000);
    assert.equal(first.event.kind, "accepted");
    const id1 = first.doc?.functions?.at(-1)?.requestId;
    assert.equal(id1, "p_d_setTemp_1000");
    if (first.event.kind === "accepted")
      assert.equal((first.event.delta?._function as Fn | undefined)?.requestId, id1);
    const second = fn(first.doc, { queue: { funcKey: "reboot", online: true } }, 1001);
    const id2 = second.doc?.functions?.at(-1)?.requestId;
    assert.equal(second.doc?.functions?.at(-1)?.isOnline, true);
    assert.equal(shown(second.doc)?.requestId, id1, "the older call stays at the head");
    assert.equal(
      second.event.kind === "accepted" && second.event.delta,
      undefined,
      "queuing behind a pending call sends the device nothing",
    );
    const answered = report(
      second.doc,
      { _function_result: { requestId: id1, status: "completed", result: { ok: true } } },
      1002,
    );
    assert.equal(answered.doc?.functions?.[0]?.status, "completed");
    assert.equal(shown(answered.doc)?.requestId, id2);
    if (answered.event.kind === "accepted")
      assert.equal((answered.event.delta?._function as Fn | undefined)?.requestId, id2);
  });

  it("times a call out when checked past its deadline, and cleans it up after retention", () => {
    const queued = fn(undefined, { queue: { funcKey: "f", timeoutMs: 50, retentionMs: 100 } }, 0);
    const id = queued.doc?.functions?.[0]?.requestId as string;
    const early = fn(queued.doc, { check: { requestId: id } }, 49);
    assert.equal(early.changed, false);
    assert.equal(early.event.kind, "document");
    const late = fn(queued.doc, { check: { requestId: id } }, 50);
    assert.equal(late.changed, true);
    assert.equal(late.doc?.functions?.[0]?.status, "timeout");
    assert.equal(late.doc?.version, (queued.doc?.version ?? 0) + 1);
    // Any later write cleans it up once retention has passed.
    const gone = report(late.doc, { t: 1 }, 150);
    assert.equal(gone.doc?.functions, undefined);
    assert.equal(gone.doc?.desired._function, undefined);
    assert.equal(gone.doc?.version, (late.doc?.version ?? 0) + 1, "one write, one version");
    const missing = fn(gone.doc, { check: { requestId: id } }, 151);
    assert.equal(missing.event.kind === "rejected" && missing.event.error._tag, "FunctionNotFound");
  });

  it("refuses bad function commands without writing", () => {
    for (const body of [
      "nope",
      { queue: { funcKey: "" } },
      { queue: { funcKey: "f", params: [1] } },
      { queue: { funcKey: "f", timeoutMs: 0 } },
      { queue: { funcKey: "f", online: "yes" } },
      { other: 1 },
    ]) {
      const out = fn(undefined, body, 1);
      assert.equal(out.changed, false, JSON.stringify(body));
      assert.equal(out.event.kind, "rejected", JSON.stringify(body));
    }
    const none = fn(undefined, { check: { requestId: "x" } }, 1);
    assert.equal(none.event.kind === "rejected" && none.event.error._tag, "FunctionNotFound");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  createShadow,
  defaultLimits,
  describeError,
  draftOf,
  type JsonObject,
  type ShadowDocument,
  type UpdateRequest,
} from "../src/index.js";
import { deepFreeze, failure, unwrap } from "./helpers.js";

const base = (): ShadowDocument => deepFreeze(createShadow("p", "d", 0));
const apply = (doc: ShadowDocument, request: UpdateRequest, now = 1000) =>
  applyUpdate(doc, request, { now });
const report = (doc: ShadowDocument, reported: JsonObject, now = 1000) =>
  unwrap(apply(doc, { reported, source: "device" }, now)).doc;

describe("applyUpdate", () => {
  it("merges recursively, keeping what the update does not name", () => {
    const doc = report(base(), { a: { x: 1, y: 2 }, b: 3 });
    const next = report(doc, { a: { y: 20, z: 30 } });
    assert.deepEqual(next.reported, { a: { x: 1, y: 20, z: 30 }, b: 3 });
  });

  it("deletes a key on null, with its metadata, and parents left empty", () => {
    const doc = report(base(), { a: { b: { c: 1 } }, keep: true });
    const next = report(doc, { a: { b: { c: null } } });
    assert.deepEqual(next.reported, { keep: true });
    assert.deepEqual(Object.keys(next.metadata.reported), ["keep"]);
  });

  it("ignores a null for a key that does not exist", () => {
    const next = report(base(), { ghost: null });
    assert.deepEqual(next.reported, {});
    assert.equal(next.version, 1, "still an accepted write");
  });

  it("replaces arrays whole and stamps them as one leaf", () => {
    const doc = report(base(), { list: [1, 2, 3] }, 10);
    const next = report(doc, { list: [9] }, 20);
    assert.deepEqual(next.reported.list, [9]);
    assert.equal((next.metadata.reported.list as { timestamp: number }).timestamp, 20);
  });

  it("replaces a leaf with an object and an object with a leaf, metadata following the shape", () => {
    const doc = report(base(), { a: 1, b: { c: 2 } }, 10);
    const next = report(doc, { a: { nested: true }, b: 5 }, 20);
    assert.deepEqual(next.reported, { a: { nested: true }, b: 5 });
    assert.deepEqual(next.metadata.reported, {
      a: { nested: { timestamp: 20, version: 2, source: "device", quality: "good" } },
      b: { timestamp: 20, version: 2, source: "device", quality: "good" },
    });
  });

  it("treats an empty object as nothing to write", () => {
    const doc = report(base(), { a: 1 });
    assert.deepEqual(report(doc, { a: {}, b: {} }).reported, { a: 1 });
  });

  it("clears all of desired or reported on a null section", () => {
    const doc = unwrap(
      apply(base(), { desired: { a: 1 }, reported: { b: 2 }, source: "cloud" }),
    ).doc;
    const cleared = unwrap(apply(doc, { desired: null, source: "cloud" }));
    assert.deepEqual(cleared.doc.desired, {});
    assert.deepEqual(cleared.doc.metadata.desired, {});
    assert.deepEqual(cleared.doc.reported, { b: 2 });
    assert.deepEqual(cleared.applied, { desired: null });
  });

  it("adds one to the version and stamps lastUpdated on every accepted write", () => {
    const write = unwrap(
      apply(
        base(),
        { reported: { a: 1 }, source: "device" },
        Date.parse("2026-01-02T03:04:05.678Z"),
      ),
    );
    assert.equal(write.doc.version, 1);
    assert.equal(write.doc.lastUpdated, "2026-01-02T03:04:05Z");
    assert.equal(write.previous.version, 0);
  });

  it("never changes the document it was given (copy on write)", () => {
    const doc = report(base(), { a: { b: 1 }, c: [1] });
    const frozen = deepFreeze(doc);
    const before = JSON.stringify(frozen);
    const next = report(frozen, { a: { b: 2, n: null }, c: null, d: 4 });
    assert.equal(JSON.stringify(frozen), before);
    assert.notDeepEqual(next.reported, frozen.reported);
  });

  it("shares untouched subtrees with the previous document", () => {
    const doc = unwrap(
      apply(base(), { desired: { a: { big: 1 } }, reported: { r: 1 }, source: "cloud" }),
    ).doc;
    const next = report(doc, { r: 2 });
    assert.equal(next.desired, doc.desired);
    assert.equal(next.metadata.desired, doc.metadata.desired);
  });

  it("works with property names that shadow Object.prototype members", () => {
    const doc = report(base(), { constructor: 1, toString: { x: 1 }, hasOwnProperty: "y" });
    assert.deepEqual(doc.reported, { constructor: 1, toString: { x: 1 }, hasOwnProperty: "y" });
    assert.deepEqual(report(doc, { toString: { x: null } }).reported, {
      constructor: 1,
      hasOwnProperty: "y",
    });
  });

  describe("refuses, and changes nothing", () => {
    it("a request with neither desired nor reported", () => {
      assert.equal(failure(apply(base(), { source: "device" }))._tag, "DesiredReportedMissing");
    });

    it("a section that is not an object", () => {
      const request = { reported: [1] as unknown as JsonObject, source: "device" } as const;
      assert.equal(failure(apply(base(), request))._tag, "InvalidParameter");
    });

    it("property names that are empty, start with $, are too long, hold control characters, or are __proto__", () => {
      for (const key of [
        "",
        "$x",
        "x".repeat(defaultLimits.maxKeyLength + 1),
        "a\nb",
        "__proto__",
      ]) {
        const reported = JSON.parse(`{${JSON.stringify(key)}:1}`);
        const error = failure(apply(base(), { reported, source: "device" }));
        assert.equal(error._tag, "InvalidParameter", JSON.stringify(key));
      }
    });

    it("numbers that are not finite and values that are not JSON", () => {
      for (const value of [Number.NaN, Number.POSITIVE_INFINITY, undefined, () => 1]) {
        const reported = { a: value } as unknown as JsonObject;
        assert.equal(
          failure(apply(base(), { reported, source: "device" }))._tag,
          "InvalidParameter",
        );
      }
    });

    it("names the offending node as a JSON Pointer", () => {
      const error = failure(
        apply(base(), { reported: { a: { "b/c": { $x: 1 } } }, source: "device" }),
      );
      assert.deepEqual(error, {
        _tag: "InvalidParameter",
        path: "/reported/a/b~1c/$x",
        reason: 'property names may not start with "$"',
      });
    });

    it("arrays nesting past the depth limit", () => {
      let value: unknown = 1;
      for (let i = 0; i < defaultLimits.maxDepth; i++) value = [value];
      const error = failure(
        apply(base(), { reported: { a: value } as JsonObject, source: "device" }),
      );
      assert.equal(error._tag, "DepthExceeded");
    });

    it("a write to desired._function, or a _function_result not from the device or not in the seed's shape", () => {
      const cases: UpdateRequest[] = [
        { desired: { _function: { funcKey: "x" } }, source: "cloud" },
        {
          reported: { _function_result: { requestId: "r", status: "completed" } },
          source: "cloud",
        },
        { reported: { _function_result: "done" }, source: "device" },
        { reported: { _function_result: { status: "completed" } }, source: "device" },
        { reported: { _function_result: { requestId: "r", status: "maybe" } }, source: "device" },
      ];
      for (const request of cases)
        assert.equal(
          failure(apply(base(), request))._tag,
          "InvalidParameter",
          JSON.stringify(request),
        );
    });

    it("a source or quality outside the seed's sets", () => {
      const bad = [
        { reported: { a: 1 }, source: "gateway" },
        { reported: { a: 1 }, source: "device", quality: "excellent" },
      ] as unknown as UpdateRequest[];
      for (const request of bad)
        assert.equal(
          failure(apply(base(), request))._tag,
          "InvalidParameter",
          JSON.stringify(request),
        );
    });

    it("an expected version that differs from the shadow's (If-Match)", () => {
      const doc = report(base(), { a: 1 });
      const request = {
        reported: { a: 2 },
        source: "cloud",
        version: { kind: "expected", version: 0 },
      } as const;
      assert.deepEqual(failure(apply(doc, request)), {
        _tag: "VersionConflict",
        expected: 0,
        current: 1,
      });
      const ok = unwrap(apply(doc, { ...request, version: { kind: "expected", version: 1 } }));
      assert.equal(ok.doc.version, 2);
    });

    it("an expected version in another epoch: the same number after an Alibaba reset", () => {
      // Epoch 0, version 1: what an ETag taken now names.
      const before = report(base(), { a: 1 });
      const reset = unwrap(
        apply(before, {
          reported: { b: 1 },
          source: "device",
          version: { kind: "newer", version: -1 },
        }),
      ).doc;
      const again = report(reset, { b: 2 });
      assert.deepEqual([again.epoch, again.version], [1, 1]);
      const stale = {
        desired: { a: 9 },
        source: "cloud",
        version: { kind: "expected", version: 1, epoch: 0 },
      } as const;
      const error = failure(apply(again, stale));
      assert.deepEqual(error, {
        _tag: "VersionConflict",
        expected: 1,
        current: 1,
        expectedEpoch: 0,
        currentEpoch: 1,
      });
      assert.match(describeError(error), /reset since/);
      const fresh = unwrap(
        apply(again, { ...stale, version: { kind: "expected", version: 1, epoch: 1 } }),
      );
      assert.equal(fresh.doc.version, 2);
      // A version without an epoch (an AWS device's) is judged on the version alone.
      assert.equal(
        unwrap(apply(again, { ...stale, version: { kind: "expected", version: 1 } })).doc.version,
        2,
      );
    });

    it("an expected version that is negative or not an integer", () => {
      for (const version of [-1, 0.5]) {
        const request = {
          reported: { a: 2 },
          source: "cloud",
          version: { kind: "expected", version },
        } as const;
        assert.equal(failure(apply(base(), request))._tag, "InvalidVersion");
      }
    });
  });

  it("drafts a document with every field it had (draftOf lists them one by one)", () => {
    const full: Required<ShadowDocument> = {
      ...createShadow("p", "d", 0),
      functions: [],
      metadata: { ...createShadow("p", "d", 0).metadata, twin: { components: ["c"] } },
      epoch: 2,
    };
    const required: Record<keyof ShadowDocument, true> = {
      deviceKey: true,
      productKey: true,
      version: true,
      reported: true,
      desired: true,
      metadata: true,
      lastUpdated: true,
      functions: true,
      epoch: true,
    };
    assert.deepEqual(Object.keys(full).sort(), Object.keys(required).sort());
    assert.deepEqual(draftOf(full, 7), { ...full, version: 7 });
  });

  it("applies the limits it is given", () => {
    const limits = { ...defaultLimits, maxDepth: 2, maxDocumentBytes: 40 };
    const tooDeep = applyUpdate(
      base(),
      { reported: { a: { b: { c: 1 } } }, source: "device" },
      { now: 1, limits },
    );
    assert.equal(failure(tooDeep)._tag, "DepthExceeded");
    const tooBig = applyUpdate(
      base(),
      { reported: { a: "x".repeat(40) }, source: "device" },
      { now: 1, limits },
    );
    assert.deepEqual(failure(tooBig), {
      _tag: "DocumentTooLarge",
      size: JSON.stringify({}).length + JSON.stringify({ a: "x".repeat(40) }).length,
      limit: 40,
    });
  });

  it("lets a shadow already over a lowered size limit shrink", () => {
    const doc = report(base(), { a: "x".repeat(100), b: 1 });
    const limits = { ...defaultLimits, maxDocumentBytes: 50 };
    const shrink = applyUpdate(
      doc,
      { reported: { a: null }, source: "device" },
      { now: 1, limits },
    );
    assert.deepEqual(unwrap(shrink).doc.reported, { b: 1 });
    const grow = applyUpdate(doc, { reported: { c: 1 }, source: "device" }, { now: 1, limits });
    assert.equal(failure(grow)._tag, "DocumentTooLarge");
  });
});

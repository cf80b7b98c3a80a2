import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  createShadow,
  type JsonObject,
  type LeafMetadata,
  type PropertyTimes,
  renderOneNetGetAccepted,
  type ShadowDocument,
  type UpdateRequest,
} from "../src/index.js";
import { deepFreeze, failure, unwrap } from "./helpers.js";

const NOW = 1_700_000_000_000;
const base = (): ShadowDocument => deepFreeze(createShadow("p", "d", 0));
const write = (doc: ShadowDocument, request: UpdateRequest, now = NOW) =>
  applyUpdate(doc, request, { now });
const timed = (doc: ShadowDocument, reported: JsonObject, times: PropertyTimes, now = NOW) =>
  deepFreeze(unwrap(write(doc, { reported, source: "device", times }, now)).doc);
const leaf = (doc: ShadowDocument, ...path: string[]): LeafMetadata => {
  let node: unknown = doc.metadata.reported;
  for (const key of path) node = (node as Record<string, unknown>)[key];
  return node as LeafMetadata;
};

describe("reported values with their own times (UpdateRequest.times)", () => {
  it("stamps every leaf of a timed property with its time, the others with the write's", () => {
    const doc = timed(base(), { Power: "on", WF: { a: 1, b: [2] }, free: 3 }, { Power: 5, WF: 7 });
    assert.equal(leaf(doc, "Power").timestamp, 5);
    assert.equal(leaf(doc, "WF", "a").timestamp, 7);
    assert.equal(leaf(doc, "WF", "b").timestamp, 7);
    assert.equal(leaf(doc, "free").timestamp, NOW);
    // Only the time differs: version, source and quality are the write's.
    assert.deepEqual(leaf(doc, "Power"), {
      timestamp: 5,
      version: 1,
      source: "device",
      quality: "good",
    });
    // The views show the device's time (OneNET in seconds).
    const image = renderOneNetGetAccepted(doc, NOW) as unknown as {
      metadata: { reported: Record<string, unknown> };
    };
    assert.deepEqual(image.metadata.reported.Power, { timestamp: 0 });
    assert.equal(doc.lastUpdated, `${new Date(NOW).toISOString().slice(0, 19)}Z`);
  });

  it("takes 0 and the largest safe integer; refuses past them and anything but an integer", () => {
    for (const t of [0, Number.MAX_SAFE_INTEGER])
      assert.equal(leaf(timed(base(), { a: 1 }, { a: t }), "a").timestamp, t);
    for (const t of [-1, Number.MAX_SAFE_INTEGER + 1, 1.5, Number.NaN, Infinity, "5", null]) {
      const error = failure(
        write(base(), { reported: { a: 1 }, source: "device", times: { a: t as number } }),
      );
      assert.deepEqual(error, {
        _tag: "InvalidParameter",
        path: "/times/a",
        reason: "must be a time in ms: an integer ≥ 0",
      });
    }
  });

  it("refuses times for a property the request does not report, or without reported", () => {
    const cases: [UpdateRequest, string][] = [
      [{ reported: { a: 1 }, source: "device", times: { b: 1 } }, "/times/b"],
      [{ desired: { a: 1 }, source: "device", times: { a: 1 } }, "/times/a"],
      [{ reported: null, source: "device", times: { a: 1 } }, "/times/a"],
      [{ reported: { a: 1 }, source: "device", times: 5 as unknown as PropertyTimes }, "/times"],
    ];
    const doc = timed(base(), { keep: 1 }, {});
    for (const [request, path] of cases) {
      const error = failure(write(doc, request));
      assert.equal(error._tag, "InvalidParameter");
      assert.equal((error as { path: string }).path, path);
    }
  });

  it("an own `__proto__` key in times is a name like any other, not a prototype", () => {
    const times = JSON.parse('{"__proto__":5}') as PropertyTimes;
    const error = failure(write(base(), { reported: { a: 1 }, source: "device", times }));
    assert.equal((error as { path: string }).path, "/times/__proto__");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyUpdate, computeDelta, createShadow, metadataOf } from "../src/index.js";
import { unwrap } from "./helpers.js";

describe("computeDelta", () => {
  it("keeps the full path of each differing desired leaf and nothing else", () => {
    const delta = computeDelta(
      { light: { color: "red", level: 3 }, fan: { speed: 2 }, mode: "eco" },
      { light: { color: "red", level: 1 }, fan: { speed: 2 }, mode: "eco", extra: true },
    );
    assert.deepEqual(delta, { light: { level: 3 } });
  });

  it("compares arrays whole", () => {
    assert.deepEqual(computeDelta({ seq: [1, 2] }, { seq: [1, 2, 3] }), { seq: [1, 2] });
    assert.equal(computeDelta({ seq: [1, { a: 2 }] }, { seq: [1, { a: 2 }] }), undefined);
  });

  it("takes a desired object whole when reported holds a leaf or nothing there", () => {
    assert.deepEqual(computeDelta({ a: { b: 1 } }, { a: 5 }), { a: { b: 1 } });
    assert.deepEqual(computeDelta({ a: { b: 1 } }, {}), { a: { b: 1 } });
    assert.deepEqual(computeDelta({ a: 5 }, { a: { b: 1 } }), { a: 5 });
  });

  it("is undefined when every desired leaf equals reported, whatever their key order", () => {
    assert.equal(computeDelta({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } }), undefined);
    assert.equal(computeDelta({}, { a: 1 }), undefined);
  });

  it("comes with the desired metadata of exactly its leaves", () => {
    const cloud = unwrap(
      applyUpdate(
        createShadow("p", "d", 0),
        { desired: { light: { color: "red", level: 3 }, mode: "eco" }, source: "cloud" },
        { now: 1000 },
      ),
    );
    const device = unwrap(
      applyUpdate(
        cloud.doc,
        { reported: { light: { color: "red" }, mode: "eco" }, source: "device" },
        { now: 2000 },
      ),
    );
    assert.deepEqual(device.delta, { light: { level: 3 } });
    assert.deepEqual(metadataOf(device.delta ?? {}, device.doc.metadata.desired), {
      light: { level: { timestamp: 1000, version: 1, source: "cloud", quality: "good" } },
    });
  });
});

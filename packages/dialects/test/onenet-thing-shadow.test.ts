import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  createShadow,
  type JsonObject,
  type LeafMetadata,
  type ShadowDocument,
  type UpdateRequest,
} from "@umbra/core";
import {
  readThingPropertyPost,
  thingDesiredData,
  thingDesiredDeletion,
  thingDesiredVersionOf,
  thingReportedUpdate,
} from "../src/index.js";

const _gw = { productId: "p", deviceName: "gw" };
const apply = (doc: ShadowDocument, request: UpdateRequest, now = 5_000) => {
  const result = applyUpdate(doc, request, { now });
  if (!result.ok) assert.fail(JSON.stringify(result.error));
  return result.value.doc;
};
const setDesired = (doc: ShadowDocument, desired: JsonObject) =>
  apply(doc, { desired, reported: undefined, source: "cloud" });
const post = (payload: string) => {
  const read = readThingPropertyPost(payload);
  if (!read.ok) assert.fail(JSON.stringify(read.error));
  return read.value;
};
const timeOf = (doc: ShadowDocument, key: string) =>
  (doc.metadata.reported[key] as LeafMetadata).timestamp;

describe("thing property post on a shadow", () => {
  it("reports the values, each leaf's metadata time the device's when given", () => {
    const doc = apply(
      createShadow("p", "d", 0),
      thingReportedUpdate(
        post(
          '{"id":"1","params":{"Power":{"value":"on","time":1524448722123},"WF":{"value":23.6}}}',
        ),
      ),
    );
    assert.deepEqual(doc.reported, { Power: "on", WF: 23.6 });
    assert.equal(timeOf(doc, "Power"), 1524448722123);
    assert.equal(timeOf(doc, "WF"), 5_000);
    assert.equal(doc.version, 1);
  });

  it("builds the engine's one request shape, `times` only when a value had one", () => {
    assert.deepEqual(
      Object.keys(thingReportedUpdate(post('{"id":"1","params":{"a":{"value":1}}}'))),
      ["desired", "reported", "source"],
    );
  });
});

describe("thing desired get and delete on a shadow", () => {
  const v1 = setDesired(createShadow("p", "d", 0), { power: "on", temp: 20 });
  const v2 = setDesired(v1, { power: "off" });
  const v3 = setDesired(v2, { mode: { a: 1, b: 2 } });
  const v4 = setDesired(v3, { mode: { b: 3 } });

  it("gives each property asked for its value and the version of its last set", () => {
    assert.deepEqual(thingDesiredData(v4, ["power", "temp", "mode", "missing"]), {
      power: { value: "off", version: 2 },
      temp: { value: 20, version: 1 },
      mode: { value: { a: 1, b: 3 }, version: 4 },
    });
    assert.equal(thingDesiredVersionOf(v4, "missing"), undefined);
    // `__proto__` asked for (a string, never a key of desired) is simply absent.
    assert.deepEqual(thingDesiredData(v4, ["__proto__"]), {});
  });

  it("clears a property named with its latest version or none; keeps one named with an older", () => {
    const deletion = thingDesiredDeletion(v4, [
      { identifier: "power", version: 1 }, // set again at 2 since
      { identifier: "temp", version: 1 },
      { identifier: "mode", version: undefined },
      { identifier: "missing", version: 3 },
    ]);
    assert.deepEqual(
      { cleared: deletion.cleared, stale: deletion.stale, absent: deletion.absent },
      { cleared: ["temp", "mode"], stale: ["power"], absent: ["missing"] },
    );
    assert.ok(deletion.update !== undefined);
    const doc = apply(v4, deletion.update);
    assert.deepEqual(doc.desired, { power: "off" });
    // Set again after a clear: a version never shown before, so an old one cannot clear it.
    const again = setDesired(doc, { temp: 21 });
    assert.ok((thingDesiredVersionOf(again, "temp") as number) > 1);
    assert.deepEqual(thingDesiredDeletion(again, [{ identifier: "temp", version: 1 }]).stale, [
      "temp",
    ]);
  });

  it("asks nothing of the engine when nothing is to be cleared", () => {
    const deletion = thingDesiredDeletion(v4, [
      { identifier: "power", version: 1 },
      { identifier: "nope", version: undefined },
    ]);
    assert.equal(deletion.update, undefined);
  });
});

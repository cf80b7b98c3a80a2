import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  applyTwinPatch,
  applyTwinReported,
  applyUpdate,
  createShadow,
  type JsonObject,
  type SectionVersions,
  type ShadowDocument,
  sectionVersionsOf,
} from "../src/index.js";
import { deepFreeze, unwrap } from "./helpers.js";

// Azure's per-section `$version`s on the one document (DIALECTS.md §2.2): the version of
// the last write that changed each section, kept from the first Plug and Play write on.

const fresh = (): ShadowDocument => deepFreeze(createShadow("p", "d", 0));
const device = (doc: ShadowDocument, reported: JsonObject, trackSections = false) =>
  unwrap(applyUpdate(doc, { reported, source: "device" }, { now: 1, trackSections })).doc;
const cloud = (doc: ShadowDocument, desired: JsonObject | null) =>
  unwrap(applyUpdate(doc, { desired, source: "cloud" }, { now: 1 })).doc;

describe("section versions", () => {
  it("are the document's version for both until a Plug and Play write, and kept nowhere", () => {
    const doc = cloud(device(fresh(), { a: 1 }), { b: 2 });
    assert.deepEqual(sectionVersionsOf(doc), { desired: 2, reported: 2 });
    assert.equal(doc.metadata.twin, undefined, "a shadow no Azure device uses stores nothing");
  });

  it("name the last write that changed each section, whoever writes after the first", () => {
    let doc = cloud(fresh(), { b: 2 }); // v1, not kept yet
    doc = device(doc, { a: 1 }, true); // v2: kept from here, desired from v1's shown
    assert.deepEqual(sectionVersionsOf(doc), { desired: 1, reported: 2 });
    doc = device(doc, { a: 2 }); // v3: no flag, still kept
    assert.deepEqual(sectionVersionsOf(doc), { desired: 1, reported: 3 });
    doc = cloud(doc, { b: 3 }); // v4
    assert.deepEqual(sectionVersionsOf(doc), { desired: 4, reported: 3 });
    doc = device(doc, { a: 2 }); // v5: the same value, written again (IoT Hub counts it too)
    assert.deepEqual(sectionVersionsOf(doc), { desired: 4, reported: 5 });
    doc = device(doc, { ghost: null }); // v6: deletes nothing, changes nothing
    assert.deepEqual(sectionVersionsOf(doc), { desired: 4, reported: 5 });
    doc = cloud(doc, null); // v7 clears desired
    assert.deepEqual(sectionVersionsOf(doc), { desired: 7, reported: 5 });
  });

  it("count a digital twin patch and an acknowledging report like any write", () => {
    let doc = device(fresh(), { t: 20 }, true); // v1
    doc = unwrap(applyTwinPatch(doc, [{ op: "add", path: "/target", value: 21 }], { now: 2 })).doc; // v2
    assert.deepEqual(sectionVersionsOf(doc), { desired: 2, reported: 1 });
    doc = unwrap(applyTwinReported(doc, { target: { value: 21, ac: 200 } }, { now: 3 })).doc;
    assert.deepEqual(sectionVersionsOf(doc), { desired: 2, reported: 3 });
    assert.equal(doc.metadata.twin?.acks?.["/target"]?.version, 2, "no av: desired's $version");
  });

  it("never go back on a sequence of writes from any side (property)", () => {
    const write = fc.record({
      side: fc.constantFrom("device", "cloud"),
      key: fc.constantFrom("a", "b"),
      value: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
      track: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 30 }), (writes) => {
        let doc = fresh();
        let shown: SectionVersions = sectionVersionsOf(doc);
        for (const w of writes) {
          const section = { [w.key]: w.value };
          const result = applyUpdate(
            doc,
            w.side === "device"
              ? { reported: section, source: "device" }
              : { desired: section, source: "cloud" },
            { now: 1, trackSections: w.track },
          );
          if (!result.ok) continue;
          const before = doc;
          doc = result.value.doc;
          const next = sectionVersionsOf(doc);
          assert.ok(next.desired >= shown.desired && next.reported >= shown.reported);
          if (doc.metadata.twin?.sections !== undefined) {
            // Kept: a section that did not change keeps its version.
            if (doc.desired === before.desired && before.metadata.twin?.sections !== undefined)
              assert.equal(next.desired, shown.desired);
            if (doc.reported !== before.reported) assert.equal(next.reported, doc.version);
          }
          shown = next;
        }
      }),
    );
  });
});

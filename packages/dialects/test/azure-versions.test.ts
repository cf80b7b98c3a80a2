import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyUpdate, createShadow, type ShadowDocument, type UpdateRequest } from "@umbra/core";
import {
  type AzureSectionVersions,
  azureSectionVersionsAfter,
  azureSectionVersionsOf,
  sectionsTouchedBy,
} from "../src/index.js";

/**
 * The engine as the design wants it: every accepted write also moves the stored
 * counters (here kept beside the document, as `metadata.twin.sectionVersions` would).
 */
const run = (
  state: { doc: ShadowDocument; stored: AzureSectionVersions | undefined },
  request: UpdateRequest,
  now: number,
) => {
  const write = applyUpdate(state.doc, request, { now });
  assert.ok(write.ok, JSON.stringify(write));
  return {
    doc: write.value.doc,
    stored: azureSectionVersionsAfter(
      state.stored,
      state.doc.version,
      sectionsTouchedBy(write.value.applied),
    ),
  };
};

const shown = (state: { doc: ShadowDocument; stored: AzureSectionVersions | undefined }) =>
  azureSectionVersionsOf(state.stored, state.doc.version);

describe("Azure section versions", () => {
  it("moves each section's $version one on per write to that section only", () => {
    let s = {
      doc: createShadow("p", "d", 0),
      stored: undefined as AzureSectionVersions | undefined,
    };
    assert.deepEqual(shown(s), { desired: 0, reported: 0 });
    s = run(s, { reported: { a: 1 }, source: "device" }, 1);
    assert.deepEqual(shown(s), { desired: 0, reported: 1 });
    s = run(s, { reported: { a: 2 }, source: "device" }, 2);
    s = run(s, { reported: { a: null }, source: "device" }, 3);
    assert.deepEqual(shown(s), { desired: 0, reported: 3 });
    s = run(s, { desired: { b: 1 }, source: "cloud" }, 4);
    assert.deepEqual(shown(s), { desired: 1, reported: 3 });
    s = run(s, { desired: { b: 2 }, reported: { b: 2 }, source: "device" }, 5);
    assert.deepEqual(shown(s), { desired: 2, reported: 4 });
    assert.equal(s.doc.version, 5);
  });

  it("only ever increases across an Alibaba reset, which takes the canonical version to 0", () => {
    let s = {
      doc: createShadow("p", "d", 0),
      stored: undefined as AzureSectionVersions | undefined,
    };
    for (let i = 1; i <= 4; i++) s = run(s, { desired: { x: i }, source: "cloud" }, i);
    s = run(s, { reported: { y: 1 }, source: "device" }, 5);
    assert.deepEqual(shown(s), { desired: 4, reported: 1 });
    const before = shown(s);
    s = run(
      s,
      { reported: { z: 1 }, source: "device", version: { kind: "newer", version: -1 } },
      6,
    );
    assert.equal(s.doc.version, 0); // the canonical version went back
    // A reset clears both sections: both move on, from where they were.
    const after = shown(s);
    assert.ok(after.desired > before.desired && after.reported > before.reported);
    assert.deepEqual(after, { desired: 5, reported: 2 });
    s = run(s, { desired: { x: 9 }, source: "cloud" }, 7);
    assert.deepEqual(shown(s), { desired: 6, reported: 2 });
  });

  it("starts a document without counters from its canonical version, never below what was shown", () => {
    let doc = createShadow("p", "d", 0);
    for (let i = 1; i <= 7; i++) {
      const w = applyUpdate(doc, { reported: { n: i }, source: "device" }, { now: i });
      assert.ok(w.ok);
      doc = w.value.doc;
    }
    // Shown before any counter was stored: the canonical version for both.
    const first = azureSectionVersionsOf(undefined, doc.version);
    assert.deepEqual(first, { desired: 7, reported: 7 });
    const next = azureSectionVersionsAfter(undefined, doc.version, {
      desired: false,
      reported: true,
    });
    assert.deepEqual(next, { desired: 7, reported: 8 });
    // A write touching nothing leaves them where they are.
    assert.deepEqual(
      azureSectionVersionsAfter(next, 123, { desired: false, reported: false }),
      next,
    );
  });

  it("reads which sections a write touched, a cleared section included", () => {
    assert.deepEqual(sectionsTouchedBy({ desired: null }), { desired: true, reported: false });
    assert.deepEqual(sectionsTouchedBy({ reported: {} }), { desired: false, reported: true });
    assert.deepEqual(sectionsTouchedBy({}), { desired: false, reported: false });
  });

  it("stops at the largest exact integer rather than losing exactness", () => {
    const top = { desired: Number.MAX_SAFE_INTEGER, reported: 1 };
    assert.deepEqual(azureSectionVersionsAfter(top, 0, { desired: true, reported: true }), {
      desired: Number.MAX_SAFE_INTEGER,
      reported: 2,
    });
  });
});

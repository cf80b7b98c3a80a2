import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  applyUpdate,
  createShadow,
  type JsonObject,
  type LeafMetadata,
  newerThanReported,
  type PropertyTimes,
  renderOneNetGetAccepted,
  reportedTimeOf,
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

describe("newerThanReported: late data never overwrites a newer report", () => {
  const doc = timed(base(), { old: 1, fresh: 2, struct: { x: 1, y: 2 } }, { old: 100, fresh: 900 });
  const structAt = (t: number) => timed(doc, { struct: { y: 3 } }, { struct: t }, NOW + 1);

  it("keeps properties at least as new as the shadow's, untimed ones and new ones", () => {
    const kept = newerThanReported(
      doc,
      { old: 10, fresh: 20, untimed: 30, brandNew: 40 },
      { old: 100, fresh: 899, brandNew: 1 },
    );
    assert.deepEqual(kept.reported, { old: 10, untimed: 30, brandNew: 40 });
    assert.deepEqual(kept.times, { old: 100, brandNew: 1 });
    assert.deepEqual(kept.older, ["fresh"]);
  });

  it("judges an object by its newest leaf", () => {
    const mixed = structAt(500); // y at 500, x at NOW (untimed before)
    assert.equal(reportedTimeOf(mixed, "struct"), NOW);
    assert.deepEqual(newerThanReported(mixed, { struct: { x: 0 } }, { struct: NOW - 1 }).older, [
      "struct",
    ]);
    assert.deepEqual(newerThanReported(mixed, { struct: { x: 0 } }, { struct: NOW }).older, []);
    assert.equal(reportedTimeOf(mixed, "missing"), undefined);
  });

  it("hands back its input when nothing is older, and builds `__proto__` as an own key", () => {
    const reported = { a: 1 };
    const times = { a: 5 };
    const same = newerThanReported(doc, reported, times);
    assert.equal(same.reported, reported);
    assert.equal(same.times, times);
    const proto = JSON.parse('{"__proto__":{"p":1},"fresh":0}') as JsonObject;
    const kept = newerThanReported(doc, proto, JSON.parse('{"__proto__":1,"fresh":1}'));
    assert.deepEqual(Object.keys(kept.reported), ["__proto__"]);
    assert.equal(Object.getPrototypeOf(kept.reported), Object.prototype);
    assert.deepEqual(Object.keys(kept.times), ["__proto__"]);
  });

  it("after any sequence of timed reports through it, no property's time goes back (property)", () => {
    const name = fc.constantFrom("a", "b", "c");
    const value = fc.oneof(fc.integer(), fc.record({ x: fc.integer() }, { requiredKeys: [] }));
    const report = fc.dictionary(name, fc.tuple(value, fc.option(fc.nat(1000))), {
      minKeys: 1,
    });
    fc.assert(
      fc.property(fc.array(report, { minLength: 1, maxLength: 8 }), (reports) => {
        let doc = base();
        let now = NOW;
        for (const entries of reports) {
          const reported: Record<string, unknown> = {};
          const times: Record<string, number> = {};
          for (const [k, [v, t]] of Object.entries(entries)) {
            reported[k] = v;
            if (t !== null) times[k] = t;
          }
          const kept = newerThanReported(doc, reported as JsonObject, times);
          const before = Object.fromEntries(
            ["a", "b", "c"].map((k) => [k, reportedTimeOf(doc, k)]),
          );
          for (const k of kept.older)
            assert.ok((times[k] as number) < (before[k] as number), `${k} was not older`);
          if (Object.keys(kept.reported).length === 0) continue;
          now += 1;
          const next = write(
            doc,
            { reported: kept.reported, source: "device", times: kept.times },
            now,
          );
          if (!next.ok) continue; // an empty struct and nothing else: nothing to judge
          doc = next.value.doc;
          for (const k of ["a", "b", "c"]) {
            const was = before[k];
            if (was === undefined) continue;
            const t = reportedTimeOf(doc, k);
            assert.ok(t !== undefined && t >= was, `${k} went back from ${was} to ${t}`);
          }
          for (const k of kept.older) assert.equal(reportedTimeOf(doc, k), before[k]);
        }
      }),
      { numRuns: 300 },
    );
  });
});

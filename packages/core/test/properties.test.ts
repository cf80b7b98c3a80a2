/**
 * Invariants of the engine, checked by fast-check over generated documents and
 * requests rather than a handful of examples.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  applyTwinPatch,
  applyUpdate,
  computeDelta,
  createShadow,
  encodeDocument,
  encodedByteLength,
  encodeJson,
  isObject,
  type JsonObject,
  type JsonValue,
  jsonByteLength,
  jsonEqual,
  type LeafMetadata,
  type MetadataTree,
  queueFunctionCall,
  renderAliyunControl,
  renderAliyunDocument,
  renderAwsDocuments,
  renderAwsGetAccepted,
  renderAwsUpdateAccepted,
  renderOneNetDelta,
  renderOneNetGetAccepted,
  renderOneNetUpdateAccepted,
  renderTwin,
  type ShadowDocument,
  type Source,
  type UpdateRequest,
  type VersionRule,
} from "../src/index.js";
import { deepFreeze } from "./helpers.js";

const RUNS = { numRuns: 300 };

// Few names, so that generated updates overlap and exercise merge and delete.
const key = fc.constantFrom("a", "b", "c", "temp", "mode", "constructor");
const leaf: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom("on", "off", ""),
  fc.boolean(),
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
);
const { patch } = fc.letrec<{ patch: JsonObject; value: JsonValue | null }>((tie) => ({
  patch: fc.dictionary(key, tie("value"), {
    maxKeys: 4,
    noNullPrototype: true,
  }) as fc.Arbitrary<JsonObject>,
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.constant(null),
    tie("patch"),
  ) as fc.Arbitrary<JsonValue | null>,
}));
const source = fc.constantFrom<Source>("device", "cloud");
const request: fc.Arbitrary<UpdateRequest> = fc
  .record({ desired: patch, reported: patch, source }, { requiredKeys: ["source"] })
  .filter((r) => r.desired !== undefined || r.reported !== undefined);

/** A document reached by a run of accepted updates (and maybe a function call). */
const document: fc.Arbitrary<ShadowDocument> = fc
  .tuple(fc.array(request, { maxLength: 6 }), fc.boolean())
  .map(([requests, withCall]) => {
    let doc = createShadow("p", "d", 0);
    let now = 1000;
    for (const r of requests) {
      now += 1000;
      const write = applyUpdate(doc, r, { now });
      if (write.ok) doc = write.value.doc;
    }
    if (withCall) {
      now += 1000;
      const queued = queueFunctionCall(doc, { funcKey: "f" }, { now, online: true });
      if (queued.ok) doc = queued.value.write.doc;
    }
    return doc;
  });

/** Requests the engine must refuse. */
const invalid: fc.Arbitrary<(doc: ShadowDocument) => UpdateRequest> = fc.oneof(
  fc.constant(() => ({ source: "device" as const })),
  fc.constant(() => ({ reported: { $bad: 1 }, source: "device" as const })),
  fc.constant(() => ({ reported: { a: Number.NaN }, source: "device" as const })),
  fc.constant(() => ({ desired: { _function: { x: 1 } }, source: "cloud" as const })),
  fc.constant(() => ({
    reported: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } },
    source: "device" as const,
  })),
  fc.constant((doc: ShadowDocument) => ({
    reported: { a: 1 },
    source: "cloud" as const,
    version: { kind: "expected" as const, version: doc.version + 1 },
  })),
  fc.constant((doc: ShadowDocument) => ({
    reported: { a: 1 },
    source: "device" as const,
    version: { kind: "newer" as const, version: doc.version },
  })),
);

/**
 * A version rule relative to the document it meets: none, Alibaba's reset, Alibaba's
 * newer (a step from the current version, possibly 0 or behind it, or a Date.now()-like
 * jump), or an expected version (right or wrong).
 */
type RuleShape =
  | { kind: "none" }
  | { kind: "reset" }
  | { kind: "newer"; step: number }
  | { kind: "expected"; step: number };
const versionRule: fc.Arbitrary<RuleShape> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.constant({ kind: "reset" as const }),
  fc
    .oneof(fc.integer({ min: -3, max: 3 }), fc.constant(1_796_279_699_317))
    .map((step) => ({ kind: "newer" as const, step })),
  fc.integer({ min: -1, max: 1 }).map((step) => ({ kind: "expected" as const, step })),
);
const ruleFor = (doc: ShadowDocument, rule: RuleShape): VersionRule => {
  switch (rule.kind) {
    case "none":
      return { kind: "none" };
    case "reset":
      return { kind: "newer", version: -1 };
    case "newer":
      return { kind: "newer", version: Math.max(0, doc.version + rule.step) };
    case "expected":
      return { kind: "expected", version: Math.max(0, doc.version + rule.step) };
  }
};

/** Every leaf path of a state tree with its value. */
const leaves = (tree: JsonObject, prefix: string[] = []): [string[], JsonValue][] =>
  Object.entries(tree).flatMap(([k, v]) =>
    isObject(v) && k !== "_function" && k !== "_function_result"
      ? leaves(v, [...prefix, k])
      : [[[...prefix, k], v] as [string[], JsonValue]],
  );

const at = (tree: JsonObject, path: readonly string[]): JsonValue | undefined => {
  let node: JsonValue | undefined = tree;
  for (const k of path) node = isObject(node) && Object.hasOwn(node, k) ? node[k] : undefined;
  return node;
};

/** The metadata tree has exactly the shape of the state tree. */
const mirrors = (state: JsonObject, meta: MetadataTree): boolean => {
  const keys = Object.keys(state).sort();
  if (keys.join() !== Object.keys(meta).sort().join()) return false;
  return keys.every((k) => {
    const value = state[k] as JsonValue;
    const node = meta[k] as LeafMetadata | MetadataTree;
    if (isObject(value) && k !== "_function" && k !== "_function_result")
      return mirrors(value, node as MetadataTree);
    return typeof (node as LeafMetadata).timestamp === "number";
  });
};

describe("engine invariants (property-based)", () => {
  it("the version goes up by exactly one on every accepted write without a version rule", () => {
    fc.assert(
      fc.property(
        document,
        fc.array(request, { minLength: 1, maxLength: 8 }),
        (start, requests) => {
          let doc = start;
          for (const r of requests) {
            const write = applyUpdate(doc, r, { now: 10_000_000 });
            if (!write.ok) continue;
            assert.equal(write.value.doc.version, doc.version + 1);
            doc = write.value.doc;
          }
        },
      ),
      RUNS,
    );
  });

  it("a newer-rule write takes the requested version; -1 resets to 0 in the next epoch", () => {
    fc.assert(
      fc.property(document, request, versionRule, (doc, r, rule) => {
        const version = ruleFor(doc, rule);
        const write = applyUpdate(doc, { ...r, version }, { now: 10_000_000 });
        if (version.kind !== "newer") return;
        const requested = version.version;
        if (requested !== -1 && requested <= doc.version) {
          assert.equal(write.ok, false);
          return;
        }
        if (!write.ok) return; // refused for its state (size, depth), not its version
        if (requested === -1) {
          assert.equal(write.value.doc.version, 0);
          assert.equal(write.value.doc.epoch, (doc.epoch ?? 0) + 1);
        } else {
          assert.equal(write.value.doc.version, requested);
          assert.equal(write.value.doc.epoch, doc.epoch);
        }
      }),
      RUNS,
    );
  });

  it("(epoch, version) only ever increases, whatever rules the writes carry", () => {
    // What the API's ETag relies on: a pair never comes back, so no ETag matches twice.
    fc.assert(
      fc.property(
        document,
        fc.array(fc.tuple(request, versionRule), { minLength: 1, maxLength: 10 }),
        (start, writes) => {
          let doc = start;
          for (const [r, rule] of writes) {
            const write = applyUpdate(doc, { ...r, version: ruleFor(doc, rule) }, { now: 1e7 });
            if (!write.ok) continue;
            const next = write.value.doc;
            const [e0, e1] = [doc.epoch ?? 0, next.epoch ?? 0];
            assert.ok(
              e1 > e0 || (e1 === e0 && next.version > doc.version),
              `${e0}:${doc.version} → ${e1}:${next.version}`,
            );
            doc = next;
          }
        },
      ),
      RUNS,
    );
  });

  it("a refused request changes nothing", () => {
    fc.assert(
      fc.property(document, invalid, (doc, makeRequest) => {
        const frozen = deepFreeze(doc);
        const before = JSON.stringify(frozen);
        const write = applyUpdate(frozen, makeRequest(frozen), { now: 10_000_000 });
        assert.equal(write.ok, false);
        assert.equal(JSON.stringify(frozen), before);
      }),
      RUNS,
    );
  });

  it("an accepted write never mutates the document it was given", () => {
    fc.assert(
      fc.property(document, request, (doc, r) => {
        const frozen = deepFreeze(doc);
        const before = JSON.stringify(frozen);
        applyUpdate(frozen, deepFreeze(r), { now: 10_000_000 });
        assert.equal(JSON.stringify(frozen), before);
      }),
      RUNS,
    );
  });

  it("applying the same update twice leaves desired and reported as applying it once", () => {
    fc.assert(
      fc.property(document, request, (doc, r) => {
        const once = applyUpdate(doc, r, { now: 10_000_000 });
        if (!once.ok) return;
        const twice = applyUpdate(once.value.doc, r, { now: 10_001_000 });
        assert.ok(twice.ok);
        assert.deepEqual(twice.value.doc.desired, once.value.doc.desired);
        assert.deepEqual(twice.value.doc.reported, once.value.doc.reported);
      }),
      RUNS,
    );
  });

  it("the delta is exactly the desired leaves that differ from reported", () => {
    fc.assert(
      fc.property(document, (doc) => {
        const delta = computeDelta(doc.desired, doc.reported);
        const differing = leaves(doc.desired).filter(([path, value]) =>
          path[0] === "_function"
            ? isObject(value) && value.status === "pending"
            : !jsonEqual(value, at(doc.reported, path)),
        );
        assert.equal(delta === undefined, differing.length === 0);
        const deltaLeaves = delta === undefined ? [] : leaves(delta);
        assert.deepEqual(
          deltaLeaves.map(([p]) => p.join("/")).sort(),
          differing.map(([p]) => p.join("/")).sort(),
        );
      }),
      RUNS,
    );
  });

  it("metadata always mirrors the shape of desired and reported", () => {
    fc.assert(
      fc.property(document, (doc) => {
        assert.ok(mirrors(doc.desired, doc.metadata.desired), "desired");
        assert.ok(mirrors(doc.reported, doc.metadata.reported), "reported");
      }),
      RUNS,
    );
  });

  it("every view renders every valid document as plain JSON", () => {
    fc.assert(
      fc.property(document, request, (doc, r) => {
        const write = applyUpdate(doc, r, { now: 10_000_000 });
        const views: unknown[] = [
          renderOneNetGetAccepted(doc, 1),
          renderOneNetDelta(doc, 1),
          renderAliyunDocument(doc),
          renderAliyunControl(doc, 1),
          renderAwsGetAccepted(doc, 1, { clientToken: "t" }),
          renderTwin(doc),
          ...(write.ok
            ? [
                renderOneNetUpdateAccepted(write.value),
                renderAwsUpdateAccepted(write.value),
                renderAwsDocuments(write.value),
              ]
            : []),
        ];
        for (const view of views)
          if (view !== undefined) assert.deepEqual(JSON.parse(JSON.stringify(view)), view);
      }),
      RUNS,
    );
  });

  it("encodeJson is JSON.stringify, and jsonByteLength its UTF-8 length, lone surrogates included", () => {
    const anyChar = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: anyChar }),
      fc.string({ unit: "grapheme" }),
    );
    const value = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(text, fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true })), {
        noNullPrototype: true,
      }),
    ) as fc.Arbitrary<JsonValue>;
    fc.assert(
      fc.property(value, (v) => {
        assert.equal(encodeJson(v), JSON.stringify(v));
        assert.equal(jsonByteLength(v), Buffer.byteLength(JSON.stringify(v)));
      }),
      { numRuns: 1000 },
    );
  });

  it("encodeDocument after each write matches JSON.stringify (the leaf cache never goes stale)", () => {
    fc.assert(
      fc.property(document, fc.array(request, { maxLength: 6 }), (start, requests) => {
        let doc = start;
        assert.equal(encodeDocument(doc), JSON.stringify(doc));
        for (const r of requests) {
          const write = applyUpdate(doc, r, { now: 10_000_000 });
          if (!write.ok) continue;
          doc = write.value.doc;
          assert.equal(encodeDocument(doc), JSON.stringify(doc));
          assert.equal(
            encodedByteLength(doc.desired) + encodedByteLength(doc.reported),
            Buffer.byteLength(JSON.stringify(doc.desired)) +
              Buffer.byteLength(JSON.stringify(doc.reported)),
          );
        }
      }),
      RUNS,
    );
  });

  it("a digital twin patch sets desired exactly as a simple model says, or is refused whole", () => {
    const component = fc.constantFrom("thermostat1", "thermostat2");
    const property = fc.constantFrom("targetTemperature", "mode");
    const value = fc.oneof(
      fc.integer({ min: -50, max: 50 }),
      fc.constantFrom("eco", "comfort"),
      fc.record({ low: fc.integer(), high: fc.integer() }, { noNullPrototype: true }),
    );
    const operation = fc.record({
      op: fc.constantFrom("add", "replace", "remove"),
      path: fc.tuple(component, property).map(([c, p]) => `/${c}/${p}`),
      value,
    });
    fc.assert(
      fc.property(
        fc.array(fc.array(operation, { minLength: 1, maxLength: 4 }), { maxLength: 5 }),
        (patches) => {
          let doc = createShadow("p", "d", 0);
          let model = new Map<string, JsonValue>();
          for (const ops of patches) {
            const next = new Map(model);
            let refused = false;
            for (const o of ops) {
              if (o.op !== "remove") next.set(o.path, o.value);
              else if (next.has(o.path)) next.delete(o.path);
              else refused = true; // nothing there to remove
            }
            const operations = ops.map((o) => (o.op === "remove" ? { op: o.op, path: o.path } : o));
            const write = applyTwinPatch(deepFreeze(doc), operations, { now: 5000 });
            assert.equal(write.ok, !refused, JSON.stringify(operations));
            if (!write.ok) continue;
            assert.equal(write.value.doc.version, doc.version + 1);
            doc = write.value.doc;
            model = next;
            const actual = new Map(
              leaves(doc.desired)
                .filter(([path]) => path.length === 2)
                .map(([path, v]) => [`/${path.join("/")}`, v] as const),
            );
            for (const [path, v] of model) {
              const [, c, p] = path.split("/") as [string, string, string];
              assert.deepEqual(at(doc.desired, [c, p]), v, path);
            }
            for (const path of actual.keys()) assert.ok(model.has(path), `unexpected ${path}`);
            renderTwin(doc);
          }
        },
      ),
      RUNS,
    );
  });

  it("jsonEqual agrees with deep equality of JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        assert.ok(jsonEqual(a as JsonValue, structuredClone(a) as JsonValue));
        let same = true;
        try {
          assert.deepStrictEqual(a, b);
        } catch {
          same = false;
        }
        assert.equal(jsonEqual(a as JsonValue, b as JsonValue), same);
      }),
      { numRuns: 1000 },
    );
  });
});

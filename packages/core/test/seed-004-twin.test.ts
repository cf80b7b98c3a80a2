import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyTwinPatch,
  applyTwinReported,
  computeDelta,
  createShadow,
  describeError,
  isDtdlName,
  isObject,
  type JsonObject,
  renderTwin,
  type ShadowDocument,
  twinNotConformantMessage,
} from "../src/index.js";
import {
  twinAfterPatch,
  twinComponentPatch,
  twinGet,
  twinPatchTargetTemperature,
  twinPropertyPatch,
} from "./fixtures/seeds.js";
import { deepFreeze, failure, unwrap } from "./helpers.js";

const T0 = Date.parse("2020-07-17T06:09:00.000Z");
const T1 = Date.parse("2020-07-17T06:10:31.960Z");
const T2 = Date.parse("2020-07-17T06:11:04.930Z");
const LATER = Date.parse("2020-07-17T07:00:00.000Z");

/** Azure keeps 100 ns ticks; the engine keeps ms: compare at ms precision. */
const toMs = <T>(value: T): T =>
  JSON.parse(JSON.stringify(value).replace(/(\.\d{3})\d{4}Z/g, "$10000Z"));

const meta = (timestamp: number, version: number, source: "device" | "cloud") => ({
  timestamp,
  version,
  source,
  quality: "good" as const,
});

/** The device of the seed's example, as the canonical document holds it. */
const sampleDevice = (): ShadowDocument =>
  deepFreeze({
    ...createShadow("pnp", "sample-device", T0),
    version: 4,
    reported: {
      serialNumber: "alwinexlepaho8329",
      thermostat1: { maxTempSinceLastReboot: 25.3, targetTemperature: 20.4 },
    },
    desired: { thermostat1: { targetTemperature: 20.4 } },
    metadata: {
      reported: {
        serialNumber: meta(T1, 2, "device"),
        thermostat1: {
          maxTempSinceLastReboot: meta(T1, 2, "device"),
          targetTemperature: meta(T2, 4, "device"),
        },
      },
      desired: { thermostat1: { targetTemperature: meta(T0, 4, "cloud") } },
      sync: { lastSyncTime: T2, status: "synced", lastError: "", retryCount: 0, nextSyncTime: T2 },
      twin: {
        model: "dtmi:com:example:TemperatureController;1",
        components: ["thermostat1"],
        acks: {
          "/thermostat1/targetTemperature": {
            code: 200,
            version: 4,
            description: "Successfully executed patch",
            timestamp: T2,
          },
        },
      },
    },
  });

const withThermostat2 = (doc: ShadowDocument): ShadowDocument => {
  const write = unwrap(
    applyTwinPatch(
      doc,
      [{ op: "add", path: "/thermostat2", value: { targetTemperature: 18, $metadata: {} } }],
      {
        now: T2,
      },
    ),
  );
  return deepFreeze(write.doc);
};

/** One component of a rendered twin. */
const component = (twin: JsonObject, name: string): JsonObject => {
  const c = twin[name];
  assert.ok(isObject(c), `no component ${name}`);
  return c;
};

/** `$metadata` of one property of a component of a rendered twin. */
const propertyMeta = (twin: JsonObject, name: string, property: string): unknown => {
  const meta = component(twin, name).$metadata;
  assert.ok(isObject(meta), `no $metadata in ${name}`);
  return meta[property];
};

const patchError = (doc: ShadowDocument, operations: unknown) =>
  failure(applyTwinPatch(doc, operations, { now: LATER }));

describe("IoT Plug and Play digital twin (seed 004)", () => {
  it("renders the seed's twin: $dtId, components, $metadata with desired and ack fields", () => {
    assert.deepEqual(renderTwin(sampleDevice()), toMs(twinGet));
  });

  it("applies the seed's patch: desiredValue and desiredVersion move, the reported value and ack stay", () => {
    const write = unwrap(
      applyTwinPatch(sampleDevice(), twinPatchTargetTemperature, { now: LATER }),
    );
    assert.equal(write.doc.version, 5);
    const twin = renderTwin(write.doc);
    const expected = toMs(twinAfterPatch).thermostat1;
    assert.equal(component(twin, "thermostat1").targetTemperature, expected.targetTemperature);
    assert.deepEqual(
      propertyMeta(twin, "thermostat1", "targetTemperature"),
      expected.$metadata.targetTemperature,
    );
    assert.deepEqual(write.delta, { thermostat1: { targetTemperature: 21.4 } });
  });

  it("adds, replaces and removes components as the seed's example does", () => {
    const doc = withThermostat2(sampleDevice());
    const write = unwrap(applyTwinPatch(doc, twinComponentPatch, { now: LATER }));
    // replace cleared anotherWritableProperty, which add had set; thermostat2 is gone
    assert.deepEqual(write.doc.desired, { thermostat1: { targetTemperature: 21.4 } });
    assert.deepEqual(write.doc.metadata.twin?.components, ["thermostat1"]);
    assert.equal(write.doc.version, doc.version + 1, "one patch is one write");
    const twin = renderTwin(write.doc);
    assert.ok(!("thermostat2" in twin));
  });

  it("adds, replaces and removes properties as the seed's example does", () => {
    const doc = withThermostat2(sampleDevice());
    const write = unwrap(applyTwinPatch(doc, twinPropertyPatch, { now: LATER }));
    assert.deepEqual(write.doc.desired, {
      thermostat1: { targetTemperature: 21.4, anotherWritableProperty: 42 },
    });
    // the last property of thermostat2 went, and the component with it
    assert.deepEqual(write.doc.metadata.twin?.components, ["thermostat1"]);
    const meta = (renderTwin(write.doc).thermostat1 as { $metadata: Record<string, unknown> })
      .$metadata;
    assert.deepEqual(meta.anotherWritableProperty, {
      desiredValue: 42,
      desiredVersion: write.doc.version,
      lastUpdateTime: "2020-07-17T07:00:00.0000000Z",
    });
  });

  it("needs the empty $metadata marker for component-level operations", () => {
    const doc = sampleDevice();
    assert.match(
      describeError(
        patchError(doc, [{ op: "replace", path: "/thermostat1", value: { targetTemperature: 1 } }]),
      ),
      /\$metadata/,
    );
    assert.equal(
      patchError(doc, [{ op: "add", path: "/thermostat1", value: { a: 1, $metadata: { x: 1 } } }])
        ._tag,
      "TwinPatchInvalid",
    );
  });

  it("follows the DTDL name rule: letters, digits, underscores; 1-64; not starting with a digit or underscore; not ending with underscore", () => {
    for (const good of ["a", "A1", "target_Temp2", "x".repeat(64)])
      assert.ok(isDtdlName(good), good);
    for (const bad of ["", "1abc", "_abc", "abc_", "a-b", "a b", "é", "x".repeat(65)])
      assert.ok(!isDtdlName(bad), bad);
  });

  it("refuses non-conformant properties with the seed's error message", () => {
    const doc = sampleDevice();
    const cases: [unknown, string][] = [
      [[{ op: "add", path: "/thermostat1/target-temp", value: 1 }], "target-temp"],
      [[{ op: "add", path: "/thermostat1/targetTemperature", value: [1, 2] }], "targetTemperature"],
      [[{ op: "add", path: "/thermostat1/setting", value: { list: [1] } }], "setting"],
      [[{ op: "add", path: "/thermostat1/setting", value: { "bad name": 1 } }], "setting"],
      [[{ op: "add", path: "/thermostat1", value: { _x: 1, $metadata: {} } }], "_x"],
    ];
    for (const [operations, name] of cases) {
      const error = patchError(doc, operations);
      assert.equal(error._tag, "TwinNotConformant", JSON.stringify(operations));
      assert.equal(
        describeError(error),
        `ErrorCode:ArgumentInvalid;'${name}' exists within the device twin and is not digital twin conformant property. Please refer to aka.ms/dtpatch to update this to be conformant.`,
      );
      assert.equal(describeError(error), twinNotConformantMessage(name));
    }
  });

  it("allows complex values five levels deep and refuses six", () => {
    const nest = (levels: number): unknown => (levels === 0 ? 1 : { f: nest(levels - 1) });
    const doc = sampleDevice();
    unwrap(
      applyTwinPatch(doc, [{ op: "add", path: "/thermostat1/config", value: nest(5) }], {
        now: LATER,
      }),
    );
    assert.equal(
      patchError(doc, [{ op: "add", path: "/thermostat1/config", value: nest(6) }])._tag,
      "TwinNotConformant",
    );
  });

  it("a path below a property nests as deep as a value may: five levels, not six, nor thousands", () => {
    const doc = sampleDevice();
    const path = (levels: number) => `/thermostat1/config${"/f".repeat(levels)}`;
    unwrap(applyTwinPatch(doc, [{ op: "add", path: path(5), value: 1 }], { now: LATER }));
    for (const levels of [6, 5_000])
      assert.equal(
        patchError(doc, [{ op: "add", path: path(levels), value: 1 }])._tag,
        "TwinNotConformant",
        `${levels} levels`,
      );
  });

  it("refuses values that are not JSON", () => {
    const doc = sampleDevice();
    for (const value of [() => 1, undefined, Number.NaN])
      assert.equal(
        patchError(doc, [{ op: "add", path: "/thermostat1/targetTemperature", value }])._tag,
        "TwinNotConformant",
      );
  });

  it("refuses malformed patches and changes nothing", () => {
    const doc = sampleDevice();
    for (const bad of [
      [],
      {},
      [{ op: "move", path: "/a" }],
      [{ op: "add", path: "a", value: 1 }],
      [{ op: "add", path: "/thermostat1/targetTemperature" }],
      [{ op: "remove", path: "/nothingHere" }],
      [
        { op: "add", path: "/thermostat1/ok", value: 1 },
        { op: "add", path: "/x/bad-name", value: 1 },
      ],
    ])
      assert.ok(!applyTwinPatch(doc, bad, { now: LATER }).ok, JSON.stringify(bad));
  });

  it("honours If-Match through an expected version", () => {
    const doc = sampleDevice();
    assert.equal(
      failure(
        applyTwinPatch(doc, twinPatchTargetTemperature, {
          now: LATER,
          version: { kind: "expected", version: 3 },
        }),
      )._tag,
      "VersionConflict",
    );
    unwrap(
      applyTwinPatch(doc, twinPatchTargetTemperature, {
        now: LATER,
        version: { kind: "expected", version: 4 },
      }),
    );
  });

  it("takes a device's ack {value, ac, av, ad} into ackCode, ackVersion, ackDescription", () => {
    const patched = unwrap(
      applyTwinPatch(sampleDevice(), twinPatchTargetTemperature, { now: LATER }),
    );
    const acked = unwrap(
      applyTwinReported(
        patched.doc,
        {
          thermostat1: {
            __t: "c",
            targetTemperature: { value: 21.4, ac: 200, av: 5, ad: "Successfully executed patch" },
          },
        },
        { now: LATER + 1000 },
      ),
    );
    const twin = renderTwin(acked.doc);
    assert.equal(component(twin, "thermostat1").targetTemperature, 21.4);
    assert.deepEqual(propertyMeta(twin, "thermostat1", "targetTemperature"), {
      desiredValue: 21.4,
      desiredVersion: 5,
      ackVersion: 5,
      ackCode: 200,
      ackDescription: "Successfully executed patch",
      lastUpdateTime: "2020-07-17T07:00:01.0000000Z",
    });
    assert.equal(computeDelta(acked.doc.desired, acked.doc.reported), undefined);
  });

  it("takes acks of root-level writable properties too", () => {
    const set = unwrap(
      applyTwinPatch(createShadow("p", "d", 0), [{ op: "add", path: "/interval", value: 10 }], {
        now: 1000,
      }),
    );
    const acked = unwrap(
      applyTwinReported(
        set.doc,
        { interval: { value: 10, ac: 400, av: 1, ad: "too short" } },
        { now: 2000 },
      ),
    );
    const meta = (renderTwin(acked.doc).$metadata as Record<string, unknown>).interval;
    assert.deepEqual(meta, {
      desiredValue: 10,
      desiredVersion: 1,
      ackVersion: 1,
      ackCode: 400,
      ackDescription: "too short",
      lastUpdateTime: "1970-01-01T00:00:02.0000000Z",
    });
  });
});

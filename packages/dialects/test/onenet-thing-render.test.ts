import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultLimits, ONENET_ERROR_MESSAGES, type ShadowError } from "@umbra/core";
import {
  buildThingCall,
  type DeviceId,
  ONENET_THING_MESSAGES,
  readThingPropertyPost,
  renderThingDesiredGetReply,
  renderThingError,
  renderThingRefusal,
  renderThingSuccess,
  THING_CODES,
  thingErrorCode,
} from "../src/index.js";

const dev: DeviceId = { productId: "p1", deviceName: "d1" };

describe("thing replies", () => {
  it("answers an accepted upload as §4.2 shows it", () => {
    assert.equal(renderThingSuccess("123"), '{"id":"123","code":200,"msg":"success"}');
  });

  it("answers a refusal with the request's id, or null when it had none readable", () => {
    const refused = readThingPropertyPost("{");
    assert.ok(!refused.ok);
    assert.equal(renderThingRefusal(refused.error), '{"id":null,"code":160,"msg":"illegal json"}');
    const bad = readThingPropertyPost('{"id":"5","params":{"a":1}}');
    assert.ok(!bad.ok);
    assert.equal(renderThingRefusal(bad.error), '{"id":"5","code":165,"msg":"invalid parameters"}');
    assert.equal(
      renderThingError("5", THING_CODES.notASubDevice),
      '{"id":"5","code":171,"msg":"not a sub-device of this gateway"}',
    );
  });

  it("answers the engine's refusal of a write with the image's code", () => {
    assert.equal(
      renderThingError(
        "8",
        thingErrorCode({ _tag: "DocumentTooLarge", size: 20000, limit: 16384 }),
      ),
      '{"id":"8","code":161,"msg":"json out of bound"}',
    );
  });

  it("answers desired get with each property's value and version", () => {
    assert.equal(
      renderThingDesiredGetReply("123", { power: { value: "on", version: 2 } }),
      '{"id":"123","code":200,"msg":"success","data":{"power":{"value":"on","version":2}}}',
    );
    assert.equal(
      renderThingDesiredGetReply("1", {}),
      '{"id":"1","code":200,"msg":"success","data":{}}',
    );
  });
});

describe("thing codes", () => {
  it("mean what the image's codes mean wherever both have one (seed 000)", () => {
    for (const [code, message] of Object.entries(ONENET_ERROR_MESSAGES))
      if (code in ONENET_THING_MESSAGES)
        assert.equal(
          ONENET_THING_MESSAGES[Number(code) as keyof typeof ONENET_THING_MESSAGES],
          message,
        );
    // The thing model's own codes come after the image's.
    for (const code of Object.values(THING_CODES)) {
      assert.ok(!(code in ONENET_ERROR_MESSAGES));
      assert.ok(code > 167);
    }
  });

  it("map every engine error to a code of the table, never 163 / 164 (there is no state)", () => {
    const errors: ShadowError[] = [
      { _tag: "InvalidJson", detail: "x" },
      { _tag: "InvalidEncoding" },
      { _tag: "PayloadTooLarge", size: 2, limit: 1 },
      { _tag: "DocumentTooLarge", size: 2, limit: 1 },
      { _tag: "DepthExceeded", path: "/a", limit: 8 },
      { _tag: "StateMissing" },
      { _tag: "DesiredReportedMissing" },
      { _tag: "InvalidParameter", path: "", reason: "x" },
      { _tag: "InvalidVersion", reason: "x" },
      { _tag: "VersionConflict", expected: 1, current: 2 },
      { _tag: "VersionNotNewer", requested: 1, current: 2 },
      { _tag: "ShadowExists" },
      { _tag: "ShadowNotFound" },
      { _tag: "TwinNotConformant", propertyName: "a", reason: "x" },
      { _tag: "TwinPatchInvalid", reason: "x" },
      { _tag: "TooManyProperties", count: 51, limit: 50 },
      { _tag: "FunctionNotFound", requestId: "r" },
      { _tag: "QueueFull", pending: 16, limit: 16 },
      { _tag: "Unspecified", detail: "x" },
    ];
    assert.deepEqual(
      errors.map(thingErrorCode),
      [
        160, 160, 161, 161, 162, 165, 165, 165, 165, 165, 165, 166, 167, 165, 165, 165, 165, 165,
        128,
      ],
    );
  });
});

describe("thing calls to a direct device", () => {
  it("builds property set, get and a service call on the device's own topics", () => {
    assert.deepEqual(
      buildThingCall(dev, "123", { kind: "property/set", properties: { temperature: "30.5" } }),
      {
        ok: true,
        value: {
          topic: "$sys/p1/d1/thing/property/set",
          body: '{"id":"123","version":"1.0","params":{"temperature":"30.5"}}',
        },
      },
    );
    assert.deepEqual(
      buildThingCall(dev, "124", {
        kind: "property/get",
        identifiers: ["temperature", "humidity"],
      }),
      {
        ok: true,
        value: {
          topic: "$sys/p1/d1/thing/property/get",
          body: '{"id":"124","version":"1.0","params":["temperature","humidity"]}',
        },
      },
    );
    assert.deepEqual(
      buildThingCall(
        dev,
        "125",
        { kind: "service/invoke", identifier: "reboot", input: { delay: 5 } },
        { version: "2.0" },
      ),
      {
        ok: true,
        value: {
          topic: "$sys/p1/d1/thing/service/reboot/invoke",
          body: '{"id":"125","version":"2.0","params":{"delay":5}}',
        },
      },
    );
  });

  it("keeps the gateway calls' rules: 50 properties, ids of 13 digits, usable names", () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
    const max = defaultLimits.maxGatewayProperties;
    assert.ok(buildThingCall(dev, "1", { kind: "property/get", identifiers: names(max) }).ok);
    const past = buildThingCall(dev, "1", { kind: "property/get", identifiers: names(max + 1) });
    assert.deepEqual(past, {
      ok: false,
      error: { _tag: "TooManyProperties", count: 51, limit: 50 },
    });
    const set = Object.fromEntries(names(max + 1).map((n) => [n, 1]));
    assert.equal(buildThingCall(dev, "1", { kind: "property/set", properties: set }).ok, false);
    for (const id of ["", "12345678901234", "1a"])
      assert.equal(buildThingCall(dev, id, { kind: "property/get", identifiers: ["a"] }).ok, false);
    for (const identifier of ["", "$x", "a b", "a+b", "a#", "a\u0000"]) {
      const call = buildThingCall(dev, "1", { kind: "service/invoke", identifier, input: {} });
      assert.equal(call.ok, false, identifier);
    }
    assert.equal(buildThingCall(dev, "1", { kind: "property/get", identifiers: [] }).ok, false);
  });
});

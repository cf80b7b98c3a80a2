import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShadowErrors } from "@umbra/core";
import {
  azureDesiredPushBody,
  azureErrorAnswer,
  azureErrorBody,
  azureMethodCallBody,
  azureReportedAnswer,
  azureTwinBody,
  azureTwinErrorAnswer,
  azureTwinGetAnswer,
} from "../src/index.js";

const noMeta = { metadata: {} };

describe("Azure twin bodies", () => {
  it("renders the GET body with each section's own $version, last", () => {
    const body = azureTwinBody(
      {
        desired: { telemetrySendFrequency: "5m" },
        reported: { telemetrySendFrequency: "5m", batteryLevel: 55 },
        ...noMeta,
      },
      { desired: 12, reported: 123 },
    );
    // DIALECTS.md §2.2's example, byte for byte.
    assert.equal(
      body,
      '{"desired":{"telemetrySendFrequency":"5m","$version":12},"reported":{"telemetrySendFrequency":"5m","batteryLevel":55,"$version":123}}',
    );
    assert.deepEqual(
      azureTwinGetAnswer(
        "r1",
        { desired: {}, reported: {}, ...noMeta },
        { desired: 0, reported: 0 },
      ),
      {
        topic: "$iothub/twin/res/200/?$rid=r1",
        body: '{"desired":{"$version":0},"reported":{"$version":0}}',
      },
    );
  });

  it("leaves Umbra's function-call keys out: an Azure device gets calls as methods", () => {
    const body = JSON.parse(
      azureTwinBody(
        {
          desired: { a: 1, _function: { requestId: "r", funcKey: "f", params: {} } },
          reported: { b: 2, _function_result: { requestId: "r" } },
          ...noMeta,
        },
        { desired: 1, reported: 2 },
      ),
    );
    assert.deepEqual(body, { desired: { a: 1, $version: 1 }, reported: { b: 2, $version: 2 } });
  });

  it("wraps acknowledged reported properties again, at the root and in components", () => {
    const acks = {
      "/targetTemperature": { code: 200, version: 3, description: "complete", timestamp: 1 },
      "/thermostat1/targetTemperature": { code: 202, version: 4, timestamp: 1 },
      "/gone": { code: 200, version: 1, timestamp: 1 },
    };
    const body = JSON.parse(
      azureTwinBody(
        {
          desired: { thermostat1: { __t: "c", targetTemperature: 21 } },
          reported: {
            targetTemperature: 21.3,
            thermostat1: { __t: "c", targetTemperature: 20.4, max: 25 },
            other: 1,
          },
          metadata: { twin: { acks } },
        },
        { desired: 4, reported: 9 },
      ),
    );
    assert.deepEqual(body.reported, {
      targetTemperature: { value: 21.3, ac: 200, av: 3, ad: "complete" },
      thermostat1: { __t: "c", targetTemperature: { value: 20.4, ac: 202, av: 4 }, max: 25 },
      other: 1,
      $version: 9,
    });
    assert.deepEqual(body.desired, {
      thermostat1: { __t: "c", targetTemperature: 21 },
      $version: 4,
    });
  });

  it("marks the digital twin's components with __t:c in desired, where the value lacks it", () => {
    const body = JSON.parse(
      azureTwinBody(
        {
          desired: {
            thermostat1: { targetTemperature: 21.4 },
            thermostat2: null as never,
            plain: 1,
          },
          reported: { thermostat1: { __t: "c", targetTemperature: 20.4 } },
          metadata: { twin: { components: ["thermostat1", "thermostat2", "absent"] } },
        },
        { desired: 5, reported: 2 },
      ),
    );
    assert.deepEqual(body.desired, {
      thermostat1: { __t: "c", targetTemperature: 21.4 },
      thermostat2: null,
      plain: 1,
      $version: 5,
    });
    assert.equal(
      JSON.stringify(body.reported),
      '{"thermostat1":{"__t":"c","targetTemperature":20.4},"$version":2}',
    );
  });

  it("answers a reported patch with 204, an empty body and the new reported $version", () => {
    assert.deepEqual(azureReportedAnswer("31faf641-ba4d-481c-b6fc-abd05cac69cf", 6), {
      topic: "$iothub/twin/res/204/?$rid=31faf641-ba4d-481c-b6fc-abd05cac69cf&$version=6",
      body: "",
    });
  });
});

describe("Azure desired pushes", () => {
  it("carries only the changed members, null for deleted, and the desired $version", () => {
    assert.equal(
      azureDesiredPushBody({ telemetrySendFrequency: "5m", route: null }, undefined, 8),
      '{"telemetrySendFrequency":"5m","route":null,"$version":8}',
    );
    assert.equal(
      azureDesiredPushBody({ thermostat1: { __t: "c", targetTemperature: 21.3 } }, undefined, 3),
      '{"thermostat1":{"__t":"c","targetTemperature":21.3},"$version":3}',
    );
  });

  it("marks components in a push as IoT Hub does (the marker first)", () => {
    assert.equal(
      azureDesiredPushBody({ thermostat1: { targetTemperature: 21.4 }, p: 1 }, undefined, 5, [
        "thermostat1",
      ]),
      '{"thermostat1":{"__t":"c","targetTemperature":21.4},"p":1,"$version":5}',
    );
    // A component not in the change is not added (nor one named like a prototype member).
    assert.equal(
      azureDesiredPushBody({ p: 1 }, undefined, 7, ["thermostat1", "__proto__"]),
      '{"p":1,"$version":7}',
    );
    // A removed component stays a plain null.
    assert.equal(
      azureDesiredPushBody({ thermostat1: null }, undefined, 6, ["thermostat1"]),
      '{"thermostat1":null,"$version":6}',
    );
  });

  it("spells a cleared desired member by member, and pushes nothing for a call-only change", () => {
    assert.equal(
      azureDesiredPushBody(null, { a: 1, b: { c: 2 }, _function: {} }, 5),
      '{"a":null,"b":null,"$version":5}',
    );
    assert.equal(azureDesiredPushBody(null, undefined, 5), undefined);
    assert.equal(azureDesiredPushBody(null, {}, 5), undefined);
    assert.equal(azureDesiredPushBody({ _function: { requestId: "r" } }, undefined, 5), undefined);
    assert.equal(azureDesiredPushBody({}, undefined, 5), undefined);
  });
});

describe("Azure errors", () => {
  it("answers with the status in the topic and errorCode/message in the body", () => {
    const answer = azureTwinErrorAnswer(
      "r-9",
      ShadowErrors.depthExceeded("/a/b", 10),
      Date.UTC(2026, 0, 1),
    );
    assert.equal(answer.topic, "$iothub/twin/res/400/?$rid=r-9");
    const body = JSON.parse(answer.body);
    assert.deepEqual(body, {
      errorCode: 400004,
      message: "the JSON nests deeper than 10 levels at /a/b",
      trackingId: "r-9",
      timestampUtc: "2026-01-01T00:00:00Z",
    });
    // What the Node SDK does with it (mqtt_twin_client `_onResponseMessage`): an error
    // only when the body has errorCode, failing with its message.
    assert.ok("errorCode" in body && typeof body.message === "string");
    const throttled = azureTwinErrorAnswer("r-10", ShadowErrors.queueFull(1, 1), 0);
    assert.equal(throttled.topic, "$iothub/twin/res/429/?$rid=r-10");
    assert.equal(JSON.parse(throttled.body).errorCode, 429001);
  });

  it("maps engine errors onto IoT Hub's statuses and codes", () => {
    const cases = [
      [ShadowErrors.invalidJson("x"), 400, 400004],
      [ShadowErrors.payloadTooLarge(2, 1), 400, 400004],
      [ShadowErrors.documentTooLarge(2, 1), 400, 400004],
      [ShadowErrors.invalidParameter("/a", "x"), 400, 400004],
      [ShadowErrors.versionConflict(1, 2), 412, 412002],
      [ShadowErrors.shadowNotFound(), 404, 404001],
      [ShadowErrors.queueFull(16, 16), 429, 429001],
      [ShadowErrors.unspecified("boom"), 500, 500001],
    ] as const;
    for (const [error, status, errorCode] of cases) {
      const answer = azureErrorAnswer(error);
      assert.deepEqual([answer.status, answer.errorCode], [status, errorCode], error._tag);
      assert.ok(answer.message.length > 0);
    }
    assert.equal(
      azureErrorBody({ status: 500, errorCode: 500001, message: "m" }, "t", 0),
      '{"errorCode":500001,"message":"m","trackingId":"t","timestampUtc":"1970-01-01T00:00:00Z"}',
    );
  });
});

describe("Azure method calls", () => {
  it("sends the call's parameters as the body", () => {
    assert.equal(azureMethodCallBody({ delay: 1 }), '{"delay":1}');
    assert.equal(azureMethodCallBody({}), "{}");
    assert.equal(azureMethodCallBody(null), "null");
  });
});

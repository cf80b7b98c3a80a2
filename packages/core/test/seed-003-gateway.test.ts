import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildGatewayRequest,
  DEFAULT_ONEJSON_VERSION,
  GATEWAY_CALL_TIMEOUT_MS,
  isOneJsonId,
  parseGatewayReply,
  reportedFromGetReply,
} from "../src/index.js";
import {
  gatewayPropertyGet,
  gatewayPropertyGetReply,
  gatewayPropertySet,
  gatewayPropertySetReply,
  gatewayServiceInvoke,
  gatewayServiceInvokeReply,
} from "./fixtures/seeds.js";
import { failure, unwrap } from "./helpers.js";

const sub = { deviceName: "device1", productID: "product1" };

describe("OneNET gateway sub-device calls (seed 003)", () => {
  it("builds the property/get envelope exactly as the seed shows it", () => {
    const request = buildGatewayRequest("123", sub, {
      kind: "property/get",
      identifiers: ["temperature", "humidity"],
    });
    assert.deepEqual(unwrap(request), gatewayPropertyGet);
  });

  it("builds the property/set envelope exactly as the seed shows it", () => {
    const request = buildGatewayRequest("123", sub, {
      kind: "property/set",
      properties: { temperature: "30.5", humidity: "20.5" },
    });
    assert.deepEqual(unwrap(request), gatewayPropertySet);
  });

  it("builds the service/invoke envelope exactly as the seed shows it", () => {
    const request = buildGatewayRequest("123", sub, {
      kind: "service/invoke",
      identifier: "xxxx",
      input: { Power1: "on", WF1: "2" },
    });
    assert.deepEqual(unwrap(request), gatewayServiceInvoke);
  });

  it("defaults version to 1.0 and keeps a version the caller gives", () => {
    assert.equal(DEFAULT_ONEJSON_VERSION, "1.0");
    const request = buildGatewayRequest(
      "1",
      sub,
      { kind: "property/get", identifiers: ["a"] },
      {
        version: "2.0",
      },
    );
    assert.equal(unwrap(request).version, "2.0");
  });

  it("takes ids of 1 to 13 digits only", () => {
    assert.ok(isOneJsonId("1"));
    assert.ok(isOneJsonId("1234567890123"));
    for (const bad of ["", "12345678901234", "12a", " 1", 123]) assert.ok(!isOneJsonId(bad));
    const error = failure(
      buildGatewayRequest("12345678901234", sub, { kind: "property/get", identifiers: ["a"] }),
    );
    assert.equal(error._tag, "InvalidParameter");
  });

  it("allows 50 properties per call and refuses 51", () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
    unwrap(buildGatewayRequest("1", sub, { kind: "property/get", identifiers: names(50) }));
    assert.deepEqual(
      failure(buildGatewayRequest("1", sub, { kind: "property/get", identifiers: names(51) })),
      { _tag: "TooManyProperties", count: 51, limit: 50 },
    );
    const properties = Object.fromEntries(names(51).map((n) => [n, 1]));
    assert.equal(
      failure(buildGatewayRequest("1", sub, { kind: "property/set", properties }))._tag,
      "TooManyProperties",
    );
  });

  it("refuses empty calls and bad identifiers", () => {
    assert.equal(
      failure(buildGatewayRequest("1", sub, { kind: "property/get", identifiers: [] }))._tag,
      "InvalidParameter",
    );
    assert.equal(
      failure(buildGatewayRequest("1", sub, { kind: "property/get", identifiers: ["$x"] }))._tag,
      "InvalidParameter",
    );
    assert.equal(
      failure(buildGatewayRequest("1", sub, { kind: "service/invoke", identifier: "", input: {} }))
        ._tag,
      "InvalidParameter",
    );
  });

  it("reads the seed's three replies, code and msg passed through", () => {
    assert.deepEqual(unwrap(parseGatewayReply(gatewayPropertyGetReply)), gatewayPropertyGetReply);
    assert.deepEqual(unwrap(parseGatewayReply(gatewayPropertySetReply)), gatewayPropertySetReply);
    assert.deepEqual(
      unwrap(parseGatewayReply(gatewayServiceInvokeReply)),
      gatewayServiceInvokeReply,
    );
  });

  it("turns a successful get reply into the sub-device's reported values", () => {
    const reply = unwrap(parseGatewayReply(gatewayPropertyGetReply));
    assert.deepEqual(reportedFromGetReply(reply), { temperature: 39.5, humidity: 20 });
    const failed = unwrap(parseGatewayReply({ ...gatewayPropertyGetReply, code: 500 }));
    assert.equal(reportedFromGetReply(failed), undefined);
  });

  it("refuses a reply without a valid id or code", () => {
    for (const bad of [
      null,
      [],
      { code: 200 },
      { id: "1" },
      { id: "1", code: "200" },
      { id: "1", code: 200, data: [] },
    ])
      assert.ok(!parseGatewayReply(bad).ok, JSON.stringify(bad));
  });

  it("gives the gateway 5 seconds", () => {
    assert.equal(GATEWAY_CALL_TIMEOUT_MS, 5000);
  });
});

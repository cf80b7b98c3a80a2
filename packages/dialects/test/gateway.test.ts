import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  gatewayCallTopic,
  gatewayReplyOf,
  gatewayReplyTopic,
  gatewayRequest,
  isGatewayMessageId,
  parseOneNetTopic,
  readGatewayReply,
} from "../src/index.js";

const gateway = { productId: "gwp", deviceName: "gw1" };
const sub = { productId: "product1", deviceName: "device1" };
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("gateway calls (seed 003)", () => {
  it("publishes calls on thing/sub/… and knows each reply topic", () => {
    assert.equal(gatewayCallTopic(gateway, "propertyGet"), "$sys/gwp/gw1/thing/sub/property/get");
    assert.equal(
      gatewayReplyTopic(gateway, "serviceInvoke"),
      "$sys/gwp/gw1/thing/sub/service/invoke_reply",
    );
    for (const call of ["propertyGet", "propertySet", "serviceInvoke"] as const) {
      const parsed = parseOneNetTopic(gatewayReplyTopic(gateway, call));
      assert.equal(gatewayReplyOf(parsed?.suffix ?? ""), call);
    }
    assert.equal(gatewayReplyOf("thing/sub/property/get"), undefined, "a call is not a reply");
    assert.equal(gatewayReplyOf("image/update"), undefined);
  });

  it("writes the OneJSON envelopes of the seed", () => {
    assert.deepEqual(
      JSON.parse(
        gatewayRequest("123", "1.0", sub, {
          call: "propertyGet",
          identifiers: ["temperature", "humidity"],
        }),
      ),
      {
        id: "123",
        version: "1.0",
        params: {
          deviceName: "device1",
          productID: "product1",
          params: ["temperature", "humidity"],
        },
      },
    );
    assert.deepEqual(
      JSON.parse(
        gatewayRequest("9", "1.0", sub, { call: "propertySet", values: { temperature: "30.5" } }),
      ).params,
      { deviceName: "device1", productID: "product1", params: { temperature: "30.5" } },
    );
    assert.deepEqual(
      JSON.parse(
        gatewayRequest("9", "2.0", sub, {
          call: "serviceInvoke",
          identifier: "xxxx",
          input: { Power1: "on" },
        }),
      ),
      {
        id: "9",
        version: "2.0",
        params: {
          deviceName: "device1",
          productID: "product1",
          identifier: "xxxx",
          input: { Power1: "on" },
        },
      },
    );
  });

  it("takes ids of 1 to 13 digits as strings only", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 9_999_999_999_999n }), (n) =>
        isGatewayMessageId(String(n)),
      ),
    );
    for (const bad of ["", "12345678901234", "12a", 123, null, " 1"])
      assert.equal(isGatewayMessageId(bad), false, JSON.stringify(bad));
  });

  it("reads replies and says what is wrong with a bad one, keeping its id when it can", () => {
    assert.deepEqual(
      readGatewayReply(bytes({ id: "123", code: 200, msg: "xxx", data: { temperature: 39.5 } })),
      { ok: true, reply: { id: "123", code: 200, msg: "xxx", data: { temperature: 39.5 } } },
    );
    assert.deepEqual(readGatewayReply(bytes({ id: "1", code: 200 })), {
      ok: true,
      reply: { id: "1", code: 200, msg: undefined, data: undefined },
    });
    assert.deepEqual(readGatewayReply(new TextEncoder().encode("{nope")), {
      ok: false,
      problem: "the reply is not JSON",
    });
    assert.equal(readGatewayReply(bytes([1])).ok, false);
    assert.equal(readGatewayReply(bytes({ id: 123, code: 200 })).ok, false);
    assert.deepEqual(readGatewayReply(bytes({ id: "7", code: "200" })), {
      ok: false,
      problem: "the reply's code is not an integer",
      id: "7",
    });
    assert.equal(readGatewayReply(bytes({ id: "7", code: 200, data: [1] })).ok, false);
    assert.equal(readGatewayReply(bytes({ id: "7", code: 200, msg: 5 })).ok, false);
  });
});

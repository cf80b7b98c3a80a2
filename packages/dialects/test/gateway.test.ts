import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  GATEWAY_CALLS,
  gatewayCallTopic,
  gatewayReplyOf,
  gatewayReplyTopic,
  parseOneNetTopic,
} from "../src/index.js";

const gateway = { productId: "gwp", deviceName: "gw1" };

describe("gateway topics (seed 003)", () => {
  it("publishes calls on thing/sub/… and reads each reply topic back as its call", () => {
    assert.equal(gatewayCallTopic(gateway, "property/get"), "$sys/gwp/gw1/thing/sub/property/get");
    assert.equal(gatewayCallTopic(gateway, "property/set"), "$sys/gwp/gw1/thing/sub/property/set");
    assert.equal(
      gatewayReplyTopic(gateway, "service/invoke"),
      "$sys/gwp/gw1/thing/sub/service/invoke_reply",
    );
    for (const call of GATEWAY_CALLS) {
      const parsed = parseOneNetTopic(gatewayReplyTopic(gateway, call));
      assert.equal(gatewayReplyOf(parsed?.suffix ?? ""), call);
    }
  });

  it("takes nothing else for a reply: not a call, not the image", () => {
    assert.equal(gatewayReplyOf("thing/sub/property/get"), undefined);
    assert.equal(gatewayReplyOf("image/update"), undefined);
    assert.equal(gatewayReplyOf("thing/sub/property/post_reply"), undefined);
  });
});

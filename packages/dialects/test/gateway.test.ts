import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  GATEWAY_CALLS,
  gatewayCallTopic,
  gatewayReplyOf,
  gatewayReplyTopic,
  MAX_THING_IDENTIFIER_LENGTH,
  oneNetDialect,
  parseOneNetTopic,
  type RepliedCall,
  sameRepliedCall,
  thingCallReplyTopic,
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

describe("call replies read by the OneNET dialect", () => {
  const device = { productId: "p1", deviceName: "lamp" };

  it("reads a gateway's reply as its call's kind, as seed 003 always has", () => {
    for (const call of GATEWAY_CALLS)
      assert.deepEqual(oneNetDialect.parseTopic(gatewayReplyTopic(gateway, call)), {
        kind: "gateway-reply",
        device: gateway,
        call,
      });
  });

  it("reads a device's reply to a call made to itself as a direct call, with its service", () => {
    const cases: [string, RepliedCall][] = [
      ["thing/property/set_reply", { direct: { kind: "property/set" } }],
      ["thing/property/get_reply", { direct: { kind: "property/get" } }],
      [
        "thing/service/reboot/invoke_reply",
        { direct: { kind: "service/invoke", identifier: "reboot" } },
      ],
    ];
    for (const [suffix, call] of cases)
      assert.deepEqual(
        oneNetDialect.parseTopic(`$sys/p1/lamp/${suffix}`),
        { kind: "gateway-reply", device, call },
        suffix,
      );
    const longest = "s".repeat(MAX_THING_IDENTIFIER_LENGTH);
    const topic = thingCallReplyTopic(device, { kind: "service/invoke", identifier: longest });
    assert.deepEqual(oneNetDialect.parseTopic(topic as string), {
      kind: "gateway-reply",
      device,
      call: { direct: { kind: "service/invoke", identifier: longest } },
    });
  });

  it("asks nothing of a topic that is not a reply: the calls themselves, an unfit service, upload replies", () => {
    for (const suffix of [
      "thing/property/set",
      "thing/service/reboot/invoke",
      `thing/service/${"s".repeat(MAX_THING_IDENTIFIER_LENGTH + 1)}/invoke_reply`,
      "thing/service/$x/invoke_reply",
      "thing/service//invoke_reply",
      "thing/property/post/reply",
      "thing/property/set_reply/x",
    ])
      assert.deepEqual(
        oneNetDialect.parseTopic(`$sys/p1/lamp/${suffix}`),
        { kind: "none", device },
        suffix,
      );
  });

  it("tells calls apart by kind, by whom they were made to, and a direct service by its identifier", () => {
    const reboot: RepliedCall = { direct: { kind: "service/invoke", identifier: "reboot" } };
    assert.ok(sameRepliedCall("property/get", "property/get"));
    assert.ok(!sameRepliedCall("property/get", "property/set"));
    assert.ok(!sameRepliedCall("property/get", { direct: { kind: "property/get" } }));
    assert.ok(!sameRepliedCall({ direct: { kind: "property/get" } }, "property/get"));
    assert.ok(
      sameRepliedCall({ direct: { kind: "property/set" } }, { direct: { kind: "property/set" } }),
    );
    assert.ok(
      !sameRepliedCall({ direct: { kind: "property/set" } }, { direct: { kind: "property/get" } }),
    );
    assert.ok(
      sameRepliedCall(reboot, { direct: { kind: "service/invoke", identifier: "reboot" } }),
    );
    assert.ok(
      !sameRepliedCall(reboot, { direct: { kind: "service/invoke", identifier: "reset" } }),
    );
    assert.ok(!sameRepliedCall(reboot, "service/invoke"));
  });
});

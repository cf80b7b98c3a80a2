import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type DeviceId,
  isThingServiceIdentifier,
  MAX_THING_IDENTIFIER_LENGTH,
  parseThingToken,
  parseThingTopic,
  SUBACK_FAILURE,
  THING_UPLOADS,
  type ThingCall,
  thingCallReplyTopic,
  thingCallTopic,
  thingRequestOf,
  thingSubscribeVerdict,
  thingToken,
  thingUploadReplyTopic,
  thingUploadTopic,
  topicMatches,
} from "../src/index.js";

const gw: DeviceId = { productId: "k5NIV817Ww", deviceName: "gw1" };
const sub: DeviceId = { productId: "p2", deviceName: "sub1" };
const P = "$sys/k5NIV817Ww/gw1/";
/** The gateway's session: its own topics and its sub-device's. */
const mayUse = (d: DeviceId) =>
  (d.productId === gw.productId && d.deviceName === gw.deviceName) ||
  (d.productId === sub.productId && d.deviceName === sub.deviceName);
const verdict = (filter: string) => thingSubscribeVerdict(filter, 1, mayUse);

describe("OneNET thing topics: what a device publishes", () => {
  it("reads every upload topic into the upload, naming the device", () => {
    const expected = [
      ["thing/property/post", "property/post"],
      ["thing/event/post", "event/post"],
      ["thing/property/desired/get", "property/desired/get"],
      ["thing/property/desired/delete", "property/desired/delete"],
      ["thing/pack/post", "pack/post"],
      ["thing/history/post", "history/post"],
    ] as const;
    assert.equal(expected.length, THING_UPLOADS.length);
    for (const [suffix, upload] of expected) {
      assert.deepEqual(parseThingTopic(`${P}${suffix}`), { kind: "upload", device: gw, upload });
      assert.equal(thingUploadTopic(gw, upload), `${P}${suffix}`);
    }
  });

  it("reads the replies to the cloud's calls, a service's identifier included", () => {
    const cases: [string, ThingCall][] = [
      ["thing/property/set_reply", { kind: "property/set" }],
      ["thing/property/get_reply", { kind: "property/get" }],
      ["thing/service/reboot/invoke_reply", { kind: "service/invoke", identifier: "reboot" }],
      ["thing/service/a_b-1/invoke_reply", { kind: "service/invoke", identifier: "a_b-1" }],
    ];
    for (const [suffix, call] of cases) {
      assert.deepEqual(parseThingTopic(`${P}${suffix}`), { kind: "call-reply", device: gw, call });
      assert.equal(thingCallReplyTopic(gw, call), `${P}${suffix}`);
    }
    const longest = "s".repeat(MAX_THING_IDENTIFIER_LENGTH);
    assert.deepEqual(thingRequestOf(`thing/service/${longest}/invoke_reply`), {
      kind: "call-reply",
      call: { kind: "service/invoke", identifier: longest },
    });
  });

  it("reads nothing from the cloud's own topics, gateway topics or unusable identifiers", () => {
    for (const suffix of [
      "thing/property/post/reply",
      "thing/event/post/reply",
      "thing/property/desired/get/reply",
      "thing/pack/post/reply",
      "thing/property/set",
      "thing/property/get",
      "thing/service/reboot/invoke",
      "thing/sub/property/get_reply", // seed 003: gateway.ts reads these
      "thing/property/post/",
      "thing/property",
      "thing/service//invoke_reply",
      "thing/service/a/b/invoke_reply",
      "thing/service/$sys/invoke_reply",
      "thing/service/a b/invoke_reply",
      "thing/service/a+/invoke_reply",
      `thing/service/${"s".repeat(MAX_THING_IDENTIFIER_LENGTH + 1)}/invoke_reply`,
      "image/update",
      "thingproperty/post",
    ])
      assert.equal(thingRequestOf(suffix), undefined, suffix);
    assert.equal(parseThingTopic("/sys/p/d/thing/property/post"), undefined);
    assert.equal(parseThingTopic("$sys/p//thing/property/post"), undefined);
  });

  it("builds every topic the cloud publishes", () => {
    assert.deepEqual(
      THING_UPLOADS.map((u) => thingUploadReplyTopic(gw, u)),
      [
        `${P}thing/property/post/reply`,
        `${P}thing/event/post/reply`,
        `${P}thing/property/desired/get/reply`,
        `${P}thing/property/desired/delete/reply`,
        `${P}thing/pack/post/reply`,
        `${P}thing/history/post/reply`,
      ],
    );
    assert.equal(thingCallTopic(gw, { kind: "property/set" }), `${P}thing/property/set`);
    assert.equal(thingCallTopic(gw, { kind: "property/get" }), `${P}thing/property/get`);
    assert.equal(
      thingCallTopic(gw, { kind: "service/invoke", identifier: "reboot" }),
      `${P}thing/service/reboot/invoke`,
    );
    for (const identifier of ["", "a/b", "a#", "$x", " x", "s".repeat(129)]) {
      assert.equal(thingCallTopic(gw, { kind: "service/invoke", identifier }), undefined);
      assert.equal(thingCallReplyTopic(gw, { kind: "service/invoke", identifier }), undefined);
      assert.equal(isThingServiceIdentifier(identifier), false, identifier);
    }
  });

  it("reads back every upload and call reply it builds, for any usable names (property)", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/);
    fc.assert(
      fc.property(name, name, fc.constantFrom(...THING_UPLOADS), name, (pid, dn, upload, id) => {
        const device = { productId: pid, deviceName: dn };
        assert.deepEqual(parseThingTopic(thingUploadTopic(device, upload)), {
          kind: "upload",
          device,
          upload,
        });
        // What the cloud sends is never read as the device's request.
        assert.equal(parseThingTopic(thingUploadReplyTopic(device, upload)), undefined);
        const call: ThingCall = { kind: "service/invoke", identifier: id };
        assert.equal(parseThingTopic(thingCallTopic(device, call) as string), undefined);
        assert.deepEqual(parseThingTopic(thingCallReplyTopic(device, call) as string), {
          kind: "call-reply",
          device,
          call,
        });
      }),
    );
  });

  it("carries the upload and id in one token, and reads it back", () => {
    assert.equal(thingToken("property/post", "123"), "property/post:123");
    assert.equal(thingToken("pack/post", null), "pack/post:");
    for (const upload of THING_UPLOADS)
      for (const id of ["1", "1234567890123", null])
        assert.deepEqual(parseThingToken(thingToken(upload, id)), { upload, id });
    for (const bad of [
      "",
      "property/post",
      "thing/property/post:1",
      "event/post:x",
      "event/post:12345678901234",
    ])
      assert.equal(parseThingToken(bad), undefined, bad);
  });
});

describe("OneNET thing topics: SUBACK verdicts", () => {
  it("grants, at QoS 0, filters reaching a reply or call on a device the session may use", () => {
    for (const filter of [
      `${P}thing/property/post/reply`,
      `${P}thing/property/desired/delete/reply`,
      `${P}thing/pack/post/reply`,
      `${P}thing/history/post/reply`,
      `${P}thing/property/set`,
      `${P}thing/property/get`,
      `${P}thing/service/reboot/invoke`,
      `${P}thing/service/+/invoke`,
      `${P}thing/property/+`,
      `${P}thing/+/post/reply`,
      `${P}thing/#`,
      `${P}thing/sub/property/get`,
      "$sys/p2/sub1/thing/property/post/reply",
    ])
      assert.equal(verdict(filter), 0, filter);
  });

  it("refuses filters reaching only what the device publishes, or nothing, with 0x80", () => {
    for (const filter of [
      `${P}thing/property/post`,
      `${P}thing/event/post`,
      `${P}thing/property/set_reply`,
      `${P}thing/service/reboot/invoke_reply`,
      `${P}thing/service/+/invoke_reply`,
      `${P}thing/pack/post`,
      `${P}thing/nothing`,
      `${P}thing/service/$x/invoke`,
      `${P}thing`,
      `${P}thing/`,
    ])
      assert.equal(verdict(filter), SUBACK_FAILURE, filter);
  });

  it("refuses another device's thing filters and wildcards in the device levels", () => {
    for (const filter of [
      "$sys/k5NIV817Ww/gw2/thing/property/set",
      "$sys/other/gw1/thing/#",
      "$sys/k5NIV817Ww/+/thing/property/set",
      "$sys/+/gw1/thing/property/set",
    ])
      assert.equal(verdict(filter), SUBACK_FAILURE, filter);
  });

  it("leaves every filter that is not a thing filter to the dialect's own verdict", () => {
    for (const filter of [
      `${P}image/update/accepted`,
      `${P}#`,
      `${P}+/property/set`,
      "$sys/#",
      "thing/property/set",
      "$aws/things/x/shadow/#",
    ])
      assert.equal(verdict(filter), undefined, filter);
  });

  it("grants exactly the thing filters some cloud → device topic matches (property)", () => {
    const words = [
      "thing",
      "property",
      "event",
      "post",
      "reply",
      "set",
      "get",
      "set_reply",
      "desired",
      "delete",
      "pack",
      "history",
      "service",
      "invoke",
      "invoke_reply",
      "sub",
      "reboot",
      "$x",
      "+",
      "#",
    ];
    // The model: concrete topics the cloud sends, with any usable word as a service.
    const services = words.filter(isThingServiceIdentifier);
    const cloud = [
      ...THING_UPLOADS.map((u) => thingUploadReplyTopic(gw, u)),
      thingCallTopic(gw, { kind: "property/set" }) as string,
      thingCallTopic(gw, { kind: "property/get" }) as string,
      ...services.map(
        (s) => thingCallTopic(gw, { kind: "service/invoke", identifier: s }) as string,
      ),
      `${P}thing/sub/property/get`,
      `${P}thing/sub/property/set`,
      `${P}thing/sub/service/invoke`,
    ];
    const level = fc.constantFrom(...words);
    fc.assert(
      fc.property(fc.array(level, { minLength: 0, maxLength: 5 }), (rest) => {
        // `#` only as the last level, as MQTT allows.
        const hash = rest.indexOf("#");
        const levels = hash === -1 ? rest : rest.slice(0, hash + 1);
        const filter = `${P}thing${levels.length === 0 ? "" : "/"}${levels.join("/")}`;
        const reaches = cloud.some((topic) => topicMatches(filter, topic));
        assert.equal(verdict(filter), reaches ? 0 : SUBACK_FAILURE, filter);
      }),
      { numRuns: 2000 },
    );
  });
});

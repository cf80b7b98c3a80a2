import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  aliyunDialect,
  aliyunGetTopic,
  aliyunMayPublish,
  aliyunSubscribeVerdict,
  aliyunUpdateTopic,
  parseAliyunTopic,
} from "../src/index.js";

const me = { productId: "prod1", deviceName: "dev3" };

/** The 16 filters alibabacloud-iot-device-sdk 1.2.8 subscribes on every connect (DIALECTS.md §3.1). */
const sdkFilters = (pk: string, dn: string) => [
  `/sys/${pk}/${dn}/thing/event/property/post_reply`,
  `/sys/${pk}/${dn}/thing/service/property/set`,
  `/sys/${pk}/${dn}/thing/event/+/post_reply`,
  `/sys/${pk}/${dn}/thing/deviceinfo/update_reply`,
  `/sys/${pk}/${dn}/thing/deviceinfo/delete_reply`,
  `/sys/${pk}/${dn}/thing/config/get_reply`,
  `/shadow/get/${pk}/${dn}`,
  `/sys/${pk}/${dn}/thing/config/push`,
  `/sys/${pk}/${dn}/thing/config/push_reply`,
  `/sys/${pk}/${dn}/thing/topo/add_reply`,
  `/sys/${pk}/${dn}/thing/topo/delete_reply`,
  `/sys/${pk}/${dn}/thing/topo/get_reply`,
  `/ext/session/${pk}/${dn}/combine/login_reply`,
  `/ext/session/${pk}/${dn}/combine/logout_reply`,
  `/sys/${pk}/${dn}/thing/sub/register_reply`,
  `/sys/${pk}/${dn}/rrpc/request/+`,
];

describe("Alibaba shadow topics and ACL", () => {
  it("reads update and get topics into a request naming the device", () => {
    assert.deepEqual(parseAliyunTopic("/shadow/update/prod1/dev3"), { ...me, kind: "update" });
    assert.deepEqual(parseAliyunTopic("/shadow/get/prod1/dev3"), { ...me, kind: "get" });
    assert.equal(aliyunUpdateTopic(me), "/shadow/update/prod1/dev3");
    assert.equal(aliyunGetTopic(me), "/shadow/get/prod1/dev3");
    assert.deepEqual(aliyunDialect.parseTopic(aliyunUpdateTopic(me)), {
      kind: "command",
      dialect: "aliyun",
      device: me,
      op: "request",
    });
    // The get topic is the cloud's: no device publishes there.
    assert.equal(aliyunDialect.parseTopic(aliyunGetTopic(me)), undefined);
  });

  it("reads nothing else as a shadow topic", () => {
    for (const t of [
      "/shadow/update/prod1",
      "/shadow/update/prod1/",
      "/shadow/update//dev3",
      "/shadow/update/prod1/dev3/x",
      "/shadow/delete/prod1/dev3",
      "shadow/update/prod1/dev3",
      "/shadow/update/+/dev3",
      "/shadow/get/prod1/#",
      "$sys/prod1/dev3/thing/property/post",
    ])
      assert.equal(parseAliyunTopic(t), undefined, t);
  });

  it("lets a device publish only to its own update topic", () => {
    assert.equal(aliyunMayPublish(me, "/shadow/update/prod1/dev3"), true);
    assert.equal(aliyunMayPublish(me, "/shadow/get/prod1/dev3"), false);
    assert.equal(aliyunMayPublish(me, "/shadow/update/prod1/dev4"), false);
    assert.equal(aliyunMayPublish(me, "/shadow/update/prod2/dev3"), false);
    assert.equal(aliyunMayPublish(me, "/sys/prod1/dev3/thing/event/property/post"), false);
  });

  it("grants the SDK's shadow filter and answers its 15 other connect filters 0x80", () => {
    const verdicts = sdkFilters("prod1", "dev3").map((f) => aliyunSubscribeVerdict(me, f, 1));
    assert.equal(verdicts.length, 16);
    assert.deepEqual(
      verdicts.map((v, i) => [sdkFilters("prod1", "dev3")[i], v]).filter(([, v]) => v !== 0x80),
      [["/shadow/get/prod1/dev3", 1]],
    );
  });

  it("caps the granted QoS at 1 and keeps a QoS 0 request at 0", () => {
    assert.equal(aliyunSubscribeVerdict(me, "/shadow/get/prod1/dev3", 2), 1);
    assert.equal(aliyunSubscribeVerdict(me, "/shadow/get/prod1/dev3", 0), 0);
    const mine = (d: { productId: string; deviceName: string }) =>
      d.productId === me.productId && d.deviceName === me.deviceName;
    assert.equal(aliyunDialect.subscribeVerdict("/shadow/get/prod1/dev3", 1, mine), 1);
    assert.equal(aliyunDialect.subscribeVerdict("/shadow/get/prod1/other", 1, mine), 0x80);
    assert.equal(aliyunDialect.subscribeVerdict("$sys/prod1/dev3/image/get", 1, mine), undefined);
  });

  it("refuses another device's topics and wildcards that could reach them", () => {
    for (const f of [
      "/shadow/get/prod1/dev4",
      "/shadow/get/prod2/dev3",
      "/shadow/get/prod1/+",
      "/shadow/get/+/dev3",
      "/shadow/get/#",
      "/shadow/#",
      "#",
      "+/+/+/+",
      "/shadow/update/prod1/dev3",
      ...sdkFilters("prod1", "dev4"),
    ])
      assert.equal(aliyunSubscribeVerdict(me, f, 1), 0x80, f);
  });
});

/**
 * OneNET thing-model topics at the edge's protocol layer (issue 18), against a recording
 * backend: what each upload topic becomes (a shard request with its token, or an upload
 * the edge reads), a gateway on its sub-device's topics, and SUBACK for thing filters —
 * granted when the filter can receive what the cloud sends there, else 0x80.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ISubackPacket, Packet } from "mqtt-packet";
import { SUBACK_FAILURE } from "../src/index.js";
import { PRODUCT, RawClient, startEdge, topicOf } from "./helpers.js";

const d1 = { productId: PRODUCT, deviceName: "d1" };
const sub1 = { productId: PRODUCT, deviceName: "sub1" };

const publish = (topic: string, payload: string, messageId: number): Packet => ({
  cmd: "publish",
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  messageId,
  dup: false,
  retain: false,
});

const grantedOf = (packet: Packet): number[] => {
  assert.equal(packet.cmd, "suback");
  return (packet as ISubackPacket).granted as number[];
};

describe("a OneNET thing upload topic", () => {
  it("is read once: property post and desired get/delete go to the shard with their upload as token; event, pack and history posts are the edge's", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    const suffixes = [
      "thing/property/post",
      "thing/property/desired/get",
      "thing/property/desired/delete",
      "thing/event/post",
      "thing/pack/post",
      "thing/history/post",
      // The cloud's own topic: it asks nothing.
      "thing/property/post/reply",
    ];
    for (const [i, suffix] of suffixes.entries())
      client.send(publish(topicOf("d1", suffix), '{"id":"1","params":{}}', i + 1));
    await edge.backend.until(() => edge.backend.publishes.length === suffixes.length, "publishes");
    const command = (upload: string) => ({
      kind: "command",
      dialect: "onenet",
      device: d1,
      op: "request",
      token: `${upload}:`,
    });
    const edgeUpload = (upload: string) => ({ kind: "thing-upload", device: d1, upload });
    assert.deepEqual(
      edge.backend.publishes.map((p) => p.request),
      [
        command("property/post"),
        command("property/desired/get"),
        command("property/desired/delete"),
        edgeUpload("event/post"),
        edgeUpload("pack/post"),
        edgeUpload("history/post"),
        { kind: "none", device: d1 },
      ],
    );
  });

  it("of a sub-device is its gateway's to publish; another device's is refused", async (t) => {
    const edge = await startEdge(t);
    edge.backend.subDevices.set(`${PRODUCT}/d1`, new Set([`${PRODUCT}/sub1`]));
    const client = await RawClient.connected(t, edge, "d1");
    client.send(publish(topicOf("stranger", "thing/pack/post"), "{}", 1));
    client.send(publish(topicOf("sub1", "thing/pack/post"), "{}", 2));
    await edge.backend.until(() => edge.backend.publishes.length === 1, "one publish");
    // MQTT 3.1.1 cannot refuse a publish: the stranger's is PUBACKed and dropped.
    const acks = [await client.next(), await client.next()];
    assert.deepEqual(acks.map((p) => p.cmd).sort(), ["puback", "puback"]);
    assert.deepEqual(
      edge.backend.publishes.map((p) => p.request),
      [{ kind: "thing-upload", device: sub1, upload: "pack/post" }],
    );
  });
});

describe("SUBSCRIBE to OneNET thing filters", () => {
  it("grants what can receive the cloud's replies and calls, refuses the device's own publishes", async (t) => {
    const edge = await startEdge(t);
    edge.backend.subDevices.set(`${PRODUCT}/d1`, new Set([`${PRODUCT}/sub1`]));
    const client = await RawClient.connected(t, edge, "d1");
    const verdicts: [string, number][] = [
      [topicOf("d1", "thing/property/post/reply"), 0],
      [topicOf("d1", "thing/pack/post/reply"), 0],
      [topicOf("d1", "thing/+/post/reply"), 0],
      [topicOf("d1", "thing/#"), 0],
      [topicOf("d1", "thing/property/set"), 0],
      [topicOf("d1", "thing/service/+/invoke"), 0],
      [topicOf("d1", "thing/sub/#"), 0],
      [topicOf("sub1", "thing/history/post/reply"), 0],
      // What the device itself publishes never comes from the cloud.
      [topicOf("d1", "thing/property/post"), SUBACK_FAILURE],
      [topicOf("d1", "thing/property/set_reply"), SUBACK_FAILURE],
      [topicOf("d1", "thing/nothing"), SUBACK_FAILURE],
      [topicOf("stranger", "thing/property/post/reply"), SUBACK_FAILURE],
      [`$sys/${PRODUCT}/+/thing/property/post/reply`, SUBACK_FAILURE],
      // Not a thing filter: the image's rule, unchanged.
      [topicOf("d1", "image/update/accepted"), 0],
      [topicOf("d1", "#"), 0],
    ];
    client.send({
      cmd: "subscribe",
      messageId: 3,
      subscriptions: verdicts.map(([topic]) => ({ topic, qos: 1 })),
    });
    const granted = grantedOf(await client.next());
    assert.deepEqual(
      verdicts.map(([topic], i) => [topic, granted[i]]),
      verdicts,
    );
  });
});

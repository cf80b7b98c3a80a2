import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ISubackPacket, Packet } from "mqtt-packet";
import { Reason, SUBACK_FAILURE } from "../src/index.js";
import { connectDevice, nextEvent, RawClient, startEdge, topicOf, versionName } from "./helpers.js";

const ACCEPTED = topicOf("d1", "image/update/accepted");

const grantedOf = (packet: Packet): number[] => {
  assert.equal(packet.cmd, "suback");
  return (packet as ISubackPacket).granted as number[];
};

describe("SUBSCRIBE", () => {
  for (const version of [4, 5] as const) {
    const refused = version === 5 ? Reason.notAuthorized : SUBACK_FAILURE;
    const invalid = version === 5 ? Reason.topicFilterInvalid : SUBACK_FAILURE;

    it(`grants the device's own filters at QoS 0 and refuses the rest (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      client.send({
        cmd: "subscribe",
        messageId: 5,
        subscriptions: [
          { topic: topicOf("d1", "image/#"), qos: 1 },
          { topic: topicOf("d2", "image/#"), qos: 0 },
          { topic: "$sys/P1/+/image/update/accepted", qos: 0 },
          { topic: topicOf("d1", "image/up#"), qos: 0 },
          { topic: topicOf("d1", "image/+x/delta"), qos: 0 },
          { topic: topicOf("d1", "image/update/+"), qos: 0 },
        ],
      });
      const suback = await client.next();
      assert.equal(suback.messageId, 5);
      assert.deepEqual(grantedOf(suback), [0, refused, refused, invalid, invalid, 0]);
    });
  }

  it("refuses shared subscriptions (MQTT 5)", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1", 5);
    client.send({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [{ topic: `$share/g/${topicOf("d1", "image/#")}`, qos: 0 }],
    });
    assert.deepEqual(grantedOf(await client.next()), [Reason.sharedSubscriptionsNotSupported]);
  });

  for (const version of [4, 5] as const) {
    it(`delivers only to sessions subscribed to the topic (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const d1 = await connectDevice(t, edge, "d1", { protocolVersion: version });
      await connectDevice(t, edge, "d2", { protocolVersion: version });
      const granted = await d1.subscribeAsync(topicOf("d1", "image/update/+"), { qos: 1 });
      assert.deepEqual(
        granted.map((grant) => grant.qos),
        [0],
      );
      const session1 = edge.backend.sessionOf("d1");
      const session2 = edge.backend.sessionOf("d2");

      const message = nextEvent<[string, Buffer]>(d1, "message");
      assert.equal(session1.deliver(ACCEPTED, Buffer.from('{"ok":1}')), true);
      const [topic, payload] = await message;
      assert.equal(topic, ACCEPTED);
      assert.equal(payload.toString(), '{"ok":1}');

      assert.equal(session1.deliver(topicOf("d1", "image/get/accepted"), Buffer.from("x")), false);
      assert.equal(
        session2.deliver(topicOf("d2", "image/update/accepted"), Buffer.from("x")),
        false,
      );
    });
  }

  it("delivers a Uint8Array payload that is not a Buffer", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    await client.subscribeAsync(ACCEPTED);
    const message = nextEvent<[string, Buffer]>(client, "message");
    const bytes = new TextEncoder().encode("plain bytes");
    assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, bytes), true);
    assert.equal((await message)[1].toString(), "plain bytes");
  });

  it("delivers nothing once the session is closed", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    await client.subscribeAsync(ACCEPTED);
    const session = edge.backend.sessionOf("d1");
    await client.endAsync();
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
    assert.equal(session.deliver(ACCEPTED, Buffer.from("x")), false);
  });
});

describe("UNSUBSCRIBE", () => {
  it("says per filter whether a subscription existed (MQTT 5)", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1", 5);
    client.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: ACCEPTED, qos: 0 }] });
    assert.deepEqual(grantedOf(await client.next()), [0]);
    assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), true);
    assert.equal((await client.next()).cmd, "publish");

    client.send({
      cmd: "unsubscribe",
      messageId: 2,
      unsubscriptions: [ACCEPTED, topicOf("d1", "x")],
    });
    const unsuback = await client.next();
    assert.equal(unsuback.cmd, "unsuback");
    assert.equal(unsuback.messageId, 2);
    if (unsuback.cmd === "unsuback")
      assert.deepEqual(unsuback.granted, [Reason.success, Reason.noSubscriptionExisted]);
    assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), false);
  });

  it("stops deliveries (MQTT 3.1.1)", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    await client.subscribeAsync(ACCEPTED);
    assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), true);
    await client.unsubscribeAsync(ACCEPTED);
    assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), false);
  });
});

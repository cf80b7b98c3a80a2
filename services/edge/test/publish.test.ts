import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IDisconnectPacket, IPublishPacket, Packet } from "mqtt-packet";
import { Reason } from "../src/index.js";
import { connectDevice, nextEvent, RawClient, startEdge, topicOf, versionName } from "./helpers.js";

const UPDATE = topicOf("d1", "image/update");

const publishPacket = (
  topic: string,
  qos: 0 | 1 | 2,
  messageId?: number,
  extra: Partial<IPublishPacket> = {},
): Packet => ({
  cmd: "publish",
  topic,
  payload: Buffer.from(`{"n":${messageId ?? 0}}`),
  qos,
  dup: false,
  retain: false,
  ...(messageId === undefined ? {} : { messageId }),
  ...extra,
});

const disconnectReason = (packets: Packet[]): number | undefined =>
  packets.find((packet): packet is IDisconnectPacket => packet.cmd === "disconnect")?.reasonCode;

describe("PUBLISH", () => {
  it("hands a QoS 0 publish to the backend", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    await client.publishAsync(UPDATE, '{"reported":{"on":true}}');
    await edge.backend.until(() => edge.backend.publishes.length === 1, "the publish");
    const [call] = edge.backend.publishes;
    assert.equal(call?.session, edge.backend.sessionOf("d1"));
    assert.equal(call?.topic, UPDATE);
    assert.equal(call?.payload.toString(), '{"reported":{"on":true}}');
    assert.equal(call?.qos, 0);
    assert.equal(call?.packetId, undefined);
    assert.equal(call?.dup, false);
  });

  for (const version of [4, 5] as const) {
    it(`acknowledges QoS 1 only once the backend resolves true (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      edge.backend.autoAck = false;
      const client = await RawClient.connected(t, edge, "d1", version);
      client.send(publishPacket(UPDATE, 1, 7));
      await edge.backend.until(() => edge.backend.pending().length === 1, "the publish");
      const [call] = edge.backend.pending();
      assert.equal(call?.qos, 1);
      assert.equal(call?.packetId, 7);
      await client.ping(); // nothing came before the PINGRESP: no early PUBACK

      call?.settle(true);
      const puback = await client.next();
      assert.equal(puback.cmd, "puback");
      assert.equal(puback.messageId, 7);
      if (version === 5 && puback.cmd === "puback") assert.equal(puback.reasonCode, 0);
    });
  }

  it("sends no PUBACK when the backend resolves false but closes the session; the retransmission after reconnecting carries DUP", async (t) => {
    const edge = await startEdge(t);
    edge.backend.autoAck = false;
    const client = await RawClient.connected(t, edge, "d1");
    client.send(publishPacket(UPDATE, 1, 9));
    await edge.backend.until(() => edge.backend.pending().length === 1, "the publish");
    edge.backend.pending()[0]?.settle(false);
    // Clients retransmit only on reconnect: the edge hangs up, with no PUBACK before.
    const before = await client.closedAfter();
    assert.equal(before.filter((p) => p.cmd === "puback").length, 0);

    const again = await RawClient.connected(t, edge, "d1");
    again.send(publishPacket(UPDATE, 1, 9, { dup: true }));
    await edge.backend.until(() => edge.backend.pending().length === 1, "the retransmission");
    const retry = edge.backend.pending()[0];
    assert.equal(retry?.dup, true);
    assert.equal(retry?.packetId, 9);
    retry?.settle(true);
    const puback = await again.next();
    assert.equal(puback.cmd, "puback");
    assert.equal(puback.messageId, 9);
  });

  it("tells an MQTT 5 client why when a QoS 1 publish could not be processed (0x89)", async (t) => {
    const edge = await startEdge(t);
    edge.backend.autoAck = false;
    const client = await connectDevice(t, edge, "d1", { protocolVersion: 5 });
    const disconnected = new Promise<number | undefined>((resolve) =>
      client.once("disconnect", (packet) => resolve(packet.reasonCode)),
    );
    client.publish(UPDATE, "{}", { qos: 1 });
    await edge.backend.until(() => edge.backend.pending().length === 1, "the publish");
    edge.backend.pending()[0]?.settle(false);
    assert.equal(await disconnected, 0x89);
  });

  it("completes an mqtt.js QoS 1 publish", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1", { protocolVersion: 5 });
    await client.publishAsync(UPDATE, "{}", { qos: 1 }); // resolves on PUBACK
    assert.equal(edge.backend.publishes.length, 1);
  });

  it("hands one session's publishes to the backend in the order received", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    const packets = Array.from({ length: 20 }, (_, i) =>
      client.encode(publishPacket(topicOf("d1", `image/update/${i}`), i % 2 === 0 ? 0 : 1, i + 1)),
    );
    client.socket.write(Buffer.concat(packets));
    await edge.backend.until(() => edge.backend.publishes.length === 20, "20 publishes");
    assert.deepEqual(
      edge.backend.publishes.map((call) => call.topic),
      packets.map((_, i) => topicOf("d1", `image/update/${i}`)),
    );
  });

  it("treats a retained publish as an ordinary one", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    client.send(publishPacket(UPDATE, 0, undefined, { retain: true }));
    await edge.backend.until(() => edge.backend.publishes.length === 1, "the publish");
  });

  it("drops a publish to another device's topic and disconnects MQTT 5 with 0x87", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1", { protocolVersion: 5 });
    const disconnected = nextEvent<[IDisconnectPacket]>(client, "disconnect");
    client.publish(topicOf("d2", "image/update"), "{}", { qos: 1 });
    const [packet] = await disconnected;
    assert.equal(packet.reasonCode, Reason.notAuthorized);
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
    assert.equal(edge.backend.publishes.length, 0);
  });

  it("drops a publish to another device's topic over 3.1.1, acknowledging QoS 1, and stays", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    client.send(publishPacket(topicOf("d2", "image/update"), 1, 3));
    const puback = await client.next();
    assert.equal(puback.cmd, "puback");
    assert.equal(puback.messageId, 3);
    client.send(publishPacket("elsewhere", 0));
    await client.ping();
    assert.equal(edge.backend.publishes.length, 0);
    assert.equal(edge.backend.closedSessions.length, 0);
  });

  for (const version of [4, 5] as const) {
    it(`closes on a wildcard in a topic name (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      client.send(publishPacket(topicOf("d1", "image/+"), 0));
      const packets = await client.closedAfter();
      assert.equal(disconnectReason(packets), version === 5 ? Reason.topicNameInvalid : undefined);
      assert.equal(edge.backend.publishes.length, 0);
    });

    it(`refuses QoS 2 (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      client.send(publishPacket(UPDATE, 2, 1));
      const packets = await client.closedAfter();
      assert.equal(disconnectReason(packets), version === 5 ? Reason.qosNotSupported : undefined);
      assert.equal(edge.backend.publishes.length, 0);
    });
  }

  it("refuses a topic alias, having offered none (MQTT 5)", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1", 5);
    client.send(publishPacket(UPDATE, 0, undefined, { properties: { topicAlias: 1 } }));
    assert.equal(disconnectReason(await client.closedAfter()), Reason.topicAliasInvalid);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ISubackPacket, Packet } from "mqtt-packet";
import { Reason, SUBACK_FAILURE } from "../src/index.js";
import {
  frame,
  mqttString,
  PASSWORD,
  PRODUCT,
  RawClient,
  rawConnect,
  startEdge,
  topicOf,
  u16,
  versionName,
} from "./helpers.js";

const grantedOf = (packet: Packet): number[] => {
  assert.equal(packet.cmd, "suback");
  return (packet as ISubackPacket).granted as number[];
};

/** A filter of the device's own topics exactly `bytes` long. */
const filterOf = (bytes: number): string => {
  const prefix = topicOf("d1", "image/");
  return prefix + "x".repeat(bytes - prefix.length);
};

describe("subscriptions per session", () => {
  for (const version of [4, 5] as const) {
    const quota = version === 5 ? Reason.quotaExceeded : SUBACK_FAILURE;
    it(`grants up to maxSubscriptions filters and refuses the next (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t, { maxSubscriptions: 3 });
      const client = await RawClient.connected(t, edge, "d1", version);
      const subscribe = (messageId: number, ...topics: string[]) =>
        client.send({
          cmd: "subscribe",
          messageId,
          subscriptions: topics.map((topic) => ({ topic, qos: 0 as const })),
        });
      subscribe(1, topicOf("d1", "image/a"), topicOf("d1", "image/b"));
      assert.deepEqual(grantedOf(await client.next()), [0, 0]);
      // The third is at the bound, the fourth past it; the same filter again replaces.
      subscribe(2, topicOf("d1", "image/c"), topicOf("d1", "image/d"), topicOf("d1", "image/a"));
      assert.deepEqual(grantedOf(await client.next()), [0, quota, 0]);
      const session = edge.backend.sessionOf("d1");
      assert.equal(session.deliver(topicOf("d1", "image/d"), Buffer.from("x")), false);

      client.send({
        cmd: "unsubscribe",
        messageId: 3,
        unsubscriptions: [topicOf("d1", "image/b")],
      });
      assert.equal((await client.next()).cmd, "unsuback");
      subscribe(4, topicOf("d1", "image/d"));
      assert.deepEqual(grantedOf(await client.next()), [0]);
      assert.equal(session.deliver(topicOf("d1", "image/d"), Buffer.from("x")), true);
    });

    it(`grants a filter of maxTopicBytes and refuses one byte more (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t, { maxTopicBytes: 64 });
      const client = await RawClient.connected(t, edge, "d1", version);
      client.send({
        cmd: "subscribe",
        messageId: 1,
        subscriptions: [
          { topic: filterOf(64), qos: 0 },
          { topic: filterOf(65), qos: 0 },
        ],
      });
      const invalid = version === 5 ? Reason.topicFilterInvalid : SUBACK_FAILURE;
      assert.deepEqual(grantedOf(await client.next()), [0, invalid]);
    });

    it(`takes a PUBLISH topic of maxTopicBytes and closes on one byte more (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t, { maxTopicBytes: 64 });
      const client = await RawClient.connected(t, edge, "d1", version);
      const publish = (topic: string): Packet => ({
        cmd: "publish",
        topic,
        payload: Buffer.from("{}"),
        qos: 0,
        dup: false,
        retain: false,
      });
      client.send(publish(filterOf(64)));
      await client.ping();
      assert.equal(edge.backend.publishes.length, 1);
      client.send(publish(filterOf(65)));
      const packets = await client.closedAfter();
      assert.deepEqual(
        packets.map((packet) => packet.cmd === "disconnect" && packet.reasonCode),
        version === 5 ? [Reason.topicNameInvalid] : [],
      );
      assert.equal(edge.backend.publishes.length, 1);
    });
  }

  it("counts multi-byte characters of a filter in bytes", async (t) => {
    const edge = await startEdge(t, { maxTopicBytes: 64 });
    const client = await RawClient.connected(t, edge, "d1");
    const prefix = topicOf("d1", "image/");
    // 2 bytes per "é": one byte over the bound, though the string is shorter.
    const over = prefix + "é".repeat(Math.ceil((65 - prefix.length) / 2));
    assert.ok(over.length <= 64 && Buffer.byteLength(over) > 64);
    client.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: over, qos: 0 }] });
    assert.deepEqual(grantedOf(await client.next()), [SUBACK_FAILURE]);
  });
});

describe("the first packet", () => {
  it("closes at once a connection whose first byte is not CONNECT's, before its length arrives", async (t) => {
    // The connect timeout is far beyond the test's deadline: only refusing at the first byte passes.
    const edge = await startEdge(t, { connectTimeoutMs: 60_000 });
    const client = await RawClient.open(t, edge);
    client.socket.write(Buffer.from([0x30])); // PUBLISH, length still to come
    assert.deepEqual(await client.closedAfter(), []);
  });

  it("closes at once a first packet declaring up to the packet limit but not CONNECT", async (t) => {
    const edge = await startEdge(t, { connectTimeoutMs: 60_000 });
    const client = await RawClient.open(t, edge);
    client.socket.write(Buffer.from([0x30, 0xff, 0xf7, 0x03])); // 64,503 bytes announced
    assert.deepEqual(await client.closedAfter(), []);
  });

  it("closes at once a CONNECT with reserved flags set in its fixed header", async (t) => {
    const edge = await startEdge(t, { connectTimeoutMs: 60_000 });
    const client = await RawClient.open(t, edge);
    const bytes = rawConnect({ level: 4, clientId: "d1" });
    bytes[0] = 0x12;
    client.socket.write(bytes.subarray(0, 2));
    assert.deepEqual(await client.closedAfter(), []);
    assert.equal(edge.backend.authenticateCalls, 0);
  });

  /** A 3.1.1 CONNECT of exactly `size` bytes: a will payload pads it. */
  const connectOfSize = (size: number): Buffer => {
    const build = (padding: number) =>
      rawConnect({
        level: 4,
        clientId: "d1",
        flags: 0xc2 | 0x04,
        rest: [
          mqttString(topicOf("d1", "image/update")),
          mqttString(Buffer.alloc(padding, 0x61)),
          mqttString(PRODUCT),
          mqttString(PASSWORD),
        ],
      });
    const base = build(0).length;
    const bytes = build(size - base - 1); // the remaining length takes a second byte
    assert.equal(bytes.length, size);
    return bytes;
  };

  it("accepts a CONNECT of maxConnectBytes", async (t) => {
    const edge = await startEdge(t, { maxConnectBytes: 1024 });
    const client = await RawClient.open(t, edge);
    client.socket.write(connectOfSize(1024));
    const connack = await client.next();
    assert.equal(connack.cmd === "connack" && connack.returnCode, 0);
  });

  it("closes at once a CONNECT one byte over maxConnectBytes, from its fixed header", async (t) => {
    const edge = await startEdge(t, { maxConnectBytes: 1024, connectTimeoutMs: 60_000 });
    const client = await RawClient.open(t, edge);
    client.socket.write(connectOfSize(1025).subarray(0, 3)); // the rest never comes
    assert.deepEqual(await client.closedAfter(), []);
    assert.equal(edge.backend.authenticateCalls, 0);
  });

  it("closes at once a CONNECT announcing the packet limit", async (t) => {
    const edge = await startEdge(t, { connectTimeoutMs: 60_000 });
    const client = await RawClient.open(t, edge);
    client.socket.write(Buffer.from([0x10, 0xfc, 0xff, 0x03])); // 65,532 bytes announced
    assert.deepEqual(await client.closedAfter(), []);
  });

  it("still reads a CONNECT arriving a few bytes at a time", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge);
    const bytes = rawConnect({ level: 4, clientId: "d1" });
    for (let at = 0; at < bytes.length; at += 3) {
      const piece = bytes.subarray(at, at + 3);
      await new Promise((resolve) => client.socket.write(piece, resolve));
    }
    const connack = await client.next();
    assert.equal(connack.cmd === "connack" && connack.returnCode, 0);
    // and a SUBSCRIBE with its packet identifier after it
    client.socket.write(
      frame(0x82, u16(1), mqttString(topicOf("d1", "image/#")), Buffer.from([0])),
    );
    assert.deepEqual(grantedOf(await client.next()), [0]);
  });
});

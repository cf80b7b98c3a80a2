import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Packet } from "mqtt-packet";
import { Reason } from "../src/index.js";
import { RawClient, startEdge, topicOf, versionName } from "./helpers.js";

const MAX = 1024;
const UPDATE = topicOf("d1", "image/update");

const publish = (payload: Buffer): Packet => ({
  cmd: "publish",
  topic: UPDATE,
  payload,
  qos: 0,
  dup: false,
  retain: false,
});

const disconnectReasons = (packets: Packet[]): (number | undefined)[] =>
  packets.map((packet) => (packet.cmd === "disconnect" ? packet.reasonCode : -1));

describe("maximum packet size", () => {
  for (const version of [4, 5] as const) {
    it(`refuses an oversized packet from its fixed header alone (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t, { maxPacketBytes: MAX });
      const client = await RawClient.connected(t, edge, "d1", version);
      const huge = client.encode(publish(Buffer.alloc(1024 * 1024)));
      client.socket.write(huge.subarray(0, 16)); // the rest is never sent
      const packets = await client.closedAfter();
      assert.deepEqual(disconnectReasons(packets), version === 5 ? [Reason.packetTooLarge] : []);
      assert.equal(edge.backend.publishes.length, 0);
    });
  }

  it("accepts a packet of exactly maxPacketBytes and refuses one byte more", async (t) => {
    const edge = await startEdge(t, { maxPacketBytes: MAX });
    const client = await RawClient.connected(t, edge, "d1");
    const base = client.encode(publish(Buffer.alloc(0))).length;
    const fits = client.encode(publish(Buffer.alloc(MAX - base - 1, 0x61))); // +1: 2-byte length
    assert.equal(fits.length, MAX);
    client.socket.write(fits);
    await edge.backend.until(() => edge.backend.publishes.length === 1, "the publish");

    client.send(publish(Buffer.alloc(MAX - base, 0x61)));
    await client.closedAfter();
    assert.equal(edge.backend.publishes.length, 1);
  });

  it("takes a large packet arriving in many pieces", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    const bytes = client.encode(publish(Buffer.alloc(60_000, 0x61)));
    for (let at = 0; at < bytes.length; at += 1000) {
      const piece = bytes.subarray(at, at + 1000);
      await new Promise((resolve) => client.socket.write(piece, resolve));
    }
    await edge.backend.until(() => edge.backend.publishes.length === 1, "the publish");
    assert.equal(edge.backend.publishes[0]?.payload.length, 60_000);
  });
});

describe("malformed packets", () => {
  for (const version of [4, 5] as const) {
    const expected = (reason: number) => (version === 5 ? [reason] : []);

    it(`closes on a remaining length longer than four bytes (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      client.socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
      assert.deepEqual(
        disconnectReasons(await client.closedAfter()),
        expected(Reason.malformedPacket),
      );
    });

    it(`closes on a packet the parser rejects (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      // PUBLISH whose topic length (16) runs past the packet's end
      client.socket.write(Buffer.from([0x30, 0x03, 0x00, 0x10, 0x61]));
      assert.deepEqual(
        disconnectReasons(await client.closedAfter()),
        expected(Reason.malformedPacket),
      );
    });

    it(`closes on a SUBSCRIBE without filters (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      client.socket.write(
        Buffer.from(version === 5 ? [0x82, 0x03, 0x00, 0x01, 0x00] : [0x82, 0x02, 0x00, 0x01]),
      );
      assert.deepEqual(
        disconnectReasons(await client.closedAfter()),
        expected(Reason.protocolError),
      );
    });
  }
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Packet } from "mqtt-packet";
import { Reason } from "../src/index.js";
import { RawClient, startEdge, topicOf, withDeadline } from "./helpers.js";

const UPDATE = topicOf("d1", "image/update");

const qos1 = (messageId: number, payload: Buffer): Packet => ({
  cmd: "publish",
  topic: UPDATE,
  payload,
  qos: 1,
  messageId,
  dup: false,
  retain: false,
});

describe("inbound back-pressure", () => {
  it("stops reading a flooding 3.1.1 device at maxInflight, then catches up in order", async (t) => {
    const maxInflight = 4;
    const count = 200;
    const edge = await startEdge(t, { maxInflight });
    edge.backend.autoAck = false;
    const client = await RawClient.connected(t, edge, "d1");
    const payload = Buffer.alloc(1024, 0x61);
    client.socket.write(
      Buffer.concat(Array.from({ length: count }, (_, i) => client.encode(qos1(i + 1, payload)))),
    );

    let settled = 0;
    while (settled < count) {
      await edge.backend.until(() => edge.backend.pending().length > 0, "a pending publish");
      assert.ok(edge.backend.pending().length <= maxInflight);
      for (const call of edge.backend.pending()) {
        call.settle(true);
        settled++;
      }
    }
    assert.equal(edge.backend.maxPending, maxInflight);
    assert.deepEqual(
      edge.backend.publishes.map((call) => call.packetId),
      Array.from({ length: count }, (_, i) => i + 1),
    );
    for (let id = 1; id <= count; id++) {
      const puback = await client.next();
      assert.equal(puback.cmd, "puback");
      assert.equal(puback.messageId, id);
    }
  });

  it("disconnects an MQTT 5 device that exceeds its receive maximum with 0x93", async (t) => {
    const edge = await startEdge(t, { maxInflight: 2 });
    edge.backend.autoAck = false;
    const client = await RawClient.connected(t, edge, "d1", 5);
    for (let id = 1; id <= 3; id++) client.send(qos1(id, Buffer.from("{}")));
    const packets = await client.closedAfter();
    assert.deepEqual(
      packets.map((packet) => packet.cmd === "disconnect" && packet.reasonCode),
      [Reason.receiveMaximumExceeded],
    );
    assert.equal(edge.backend.publishes.length, 2);
  });
});

describe("outbound back-pressure", () => {
  it("drops deliveries to a device that does not read, keeping the edge's buffer bounded", async (t) => {
    const highWater = 64 * 1024;
    const edge = await startEdge(t, { outboundHighWaterBytes: highWater });
    const client = await RawClient.connected(t, edge, "d1");
    const topic = topicOf("d1", "image/update/delta");
    client.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    assert.equal((await client.next()).cmd, "suback");
    client.socket.pause(); // the device stops reading

    const session = edge.backend.sessionOf("d1");
    const payload = Buffer.alloc(32 * 1024, 0x62);
    const packetBytes = client.encode({
      cmd: "publish",
      topic,
      payload,
      qos: 0,
      dup: false,
      retain: false,
    }).length;
    // One delivery per turn, so the socket hands each to the kernel before the next:
    // the edge's own buffer grows only once the kernel's buffers are full.
    let delivered = 0;
    await withDeadline(
      (async () => {
        while (session.deliver(topic, payload)) {
          delivered++;
          await nextTurn();
        }
      })(),
      "a delivery to be dropped",
      20_000,
    );
    assert.ok(delivered > 0);
    assert.equal(session.droppedDeliveries, 1);
    assert.ok(
      session.outboundBytes <= highWater + packetBytes,
      `${session.outboundBytes} bytes queued for a high-water mark of ${highWater}`,
    );
    assert.equal(session.deliver(topic, payload), false);
    assert.equal(session.droppedDeliveries, 2);

    // Once the device reads again, deliveries resume.
    await withDeadline(
      new Promise<void>((resolve) => {
        const drained = () => {
          if (session.outboundBytes > highWater) return;
          client.socket.off("data", drained);
          resolve();
        };
        client.socket.on("data", drained);
        client.socket.resume();
      }),
      "the edge's buffer to drain",
    );
    assert.equal(session.deliver(topic, payload), true);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import mqttPacket, { type IPublishPacket } from "mqtt-packet";
import { readPublish, writePublishQos0 } from "../src/publishCodec.js";

const version = fc.constantFrom(4 as const, 5 as const);
const topic = fc.string({ unit: "grapheme", maxLength: 80 });
const payload = fc.uint8Array({ maxLength: 20_000 });

/** What mqtt-packet's own parser makes of `bytes`. */
const parsed = (bytes: Buffer, protocolVersion: 4 | 5): IPublishPacket => {
  const parser = mqttPacket.parser({ protocolVersion });
  let out: IPublishPacket | undefined;
  parser.on("packet", (p) => {
    out = p as IPublishPacket;
  });
  parser.parse(bytes);
  assert.ok(out !== undefined);
  return out;
};

describe("PUBLISH codec of the hot path", () => {
  it("writes QoS 0 deliveries byte for byte as mqtt-packet does", () => {
    fc.assert(
      fc.property(topic, payload, version, (t, p, v) => {
        const expected = mqttPacket.generate(
          { cmd: "publish", topic: t, payload: Buffer.from(p), qos: 0, dup: false, retain: false },
          { protocolVersion: v },
        );
        assert.deepEqual(writePublishQos0(t, p, v), expected);
      }),
    );
  });

  it("reads PUBLISH packets as mqtt-packet's parser does", () => {
    fc.assert(
      fc.property(
        topic,
        payload,
        version,
        fc.constantFrom(0 as const, 1 as const),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 65_535 }),
        (t, p, v, qos, dup, retain, id) => {
          const packet: IPublishPacket = {
            cmd: "publish",
            topic: t,
            payload: Buffer.from(p),
            qos,
            dup: qos === 1 && dup,
            retain,
            ...(qos === 1 ? { messageId: id } : {}),
          };
          const bytes = mqttPacket.generate(packet, { protocolVersion: v });
          const fast = readPublish(bytes, v);
          const full = parsed(bytes, v);
          assert.ok(fast !== undefined);
          assert.equal(fast.topic, full.topic);
          assert.deepEqual(
            Buffer.from(fast.payload as Buffer),
            Buffer.from(full.payload as Buffer),
          );
          assert.equal(fast.qos, full.qos);
          assert.equal(fast.dup, full.dup);
          assert.equal(fast.retain, full.retain);
          if (qos === 1) assert.equal(fast.messageId, full.messageId);
        },
      ),
    );
  });

  it("leaves what it does not read to the full parser", () => {
    const withProperties = mqttPacket.generate(
      {
        cmd: "publish",
        topic: "a/b",
        payload: Buffer.from("x"),
        qos: 0,
        dup: false,
        retain: false,
        properties: { responseTopic: "r" },
      },
      { protocolVersion: 5 },
    );
    assert.equal(readPublish(withProperties, 5), undefined);
    const qos0 = mqttPacket.generate(
      { cmd: "publish", topic: "a", payload: Buffer.from("x"), qos: 0, dup: false, retain: false },
      { protocolVersion: 4 },
    );
    const qos0Dup = Buffer.from(qos0);
    qos0Dup[0] = (qos0Dup[0] as number) | 8;
    assert.equal(readPublish(qos0Dup, 4), undefined);
    const qos3 = Buffer.from(qos0);
    qos3[0] = (qos3[0] as number) | 6;
    assert.equal(readPublish(qos3, 4), undefined);
    assert.equal(readPublish(qos0.subarray(0, 4), 4), undefined);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type DeviceMessages,
  decodeAcks,
  decodeDeliver,
  decodeEdgeDeliver,
  encodeAckFrames,
  encodeDeliverTextFrames,
  encodeEdgeDeliverFrames,
  jsonArrays,
  type OutboundText,
} from "../src/index.js";

const text = new TextDecoder();
const bytes = (s: string) => Buffer.byteLength(s, "utf8");

describe("batches split below the server's max_payload", () => {
  it("ack frames: one frame exactly at the bound, two one id past it", () => {
    // Tag and u32 count, then a u32 per id: 5 + 4n bytes.
    const ids = (n: number) => Array.from({ length: n }, (_, i) => 4_000_000_000 + i);
    const max = 5 + 4 * 5;
    const at = encodeAckFrames(ids(5), max);
    assert.equal(at.length, 1);
    assert.equal((at[0] as Uint8Array).length, max);
    const past = encodeAckFrames(ids(6), max);
    assert.equal(past.length, 2);
    for (const frame of past) assert.ok(frame.length <= max);
    assert.deepEqual(
      past.flatMap((f) => [...decodeAcks(f)]),
      ids(6),
    );
  });

  it("JSON arrays: a batch of exactly max bytes is one message, one byte more is two", () => {
    const values = ['"aaaa"', '"bbbb"', '"cccc"']; // [v,v,v] = 2 + 18 + 2 = 22 bytes
    assert.deepEqual(jsonArrays(values, 22), ['["aaaa","bbbb","cccc"]']);
    assert.deepEqual(jsonArrays(values, 21), ['["aaaa","bbbb"]', '["cccc"]']);
    // Alone past the bound: an array of its own (the bus drops and counts it).
    assert.deepEqual(jsonArrays(['"x"', '"a long value"', '"y"'], 8), [
      '["x"]',
      '["a long value"]',
      '["y"]',
    ]);
  });

  it("JSON arrays keep every value, in order, each array within the bound", () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 60 }),
        fc.integer({ min: 64, max: 2_000 }),
        (items, max) => {
          const values = items.map((v) => JSON.stringify(v));
          const arrays = jsonArrays(values, max);
          const back = arrays.flatMap((a) => JSON.parse(a) as unknown[]);
          assert.deepEqual(back, JSON.parse(`[${values.join(",")}]`));
          for (const a of arrays)
            if ((JSON.parse(a) as unknown[]).length > 1) assert.ok(bytes(a) <= max);
        },
      ),
    );
  });

  const message = fc.record({
    topic: fc.string({ minLength: 1, maxLength: 40 }),
    body: fc.string({ maxLength: 300, unit: "binary" }),
  });

  it("deliver frames keep every message, in order, each frame within the bound", () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 40 }),
        fc.integer({ min: 1_000, max: 20_000 }),
        (messages, max) => {
          const frames = encodeDeliverTextFrames(messages, max);
          for (const f of frames) assert.ok(f.length <= max);
          const back = frames.flatMap((f) =>
            decodeDeliver(f).map((m) => ({ topic: m.topic, body: text.decode(m.payload) })),
          );
          assert.deepEqual(
            back,
            messages.map((m) => ({ topic: m.topic, body: text.decode(Buffer.from(m.body)) })),
          );
        },
      ),
    );
  });

  it("edge deliver frames keep every device's messages, in order, each frame within the bound", () => {
    const device = fc.record({
      device: fc.string({ minLength: 3, maxLength: 30 }),
      messages: fc.array(message, { minLength: 1, maxLength: 20 }),
    });
    fc.assert(
      fc.property(
        fc.array(device, { maxLength: 20 }),
        fc.integer({ min: 1_200, max: 30_000 }),
        (devices: DeviceMessages<OutboundText>[], max) => {
          const frames = encodeEdgeDeliverFrames(devices, max);
          for (const f of frames) assert.ok(f.length <= max, `${f.length} > ${max}`);
          const flat = (list: { device: string; messages: readonly unknown[] }[]) =>
            list.flatMap((d) => d.messages.map((m) => [d.device, m]));
          const back = frames.flatMap((f) =>
            decodeEdgeDeliver(f).map((d) => ({
              device: d.device,
              messages: d.messages.map((m) => ({ topic: m.topic, body: text.decode(m.payload) })),
            })),
          );
          const sent = devices.map((d) => ({
            device: text.decode(Buffer.from(d.device)),
            messages: d.messages.map((m) => ({
              topic: m.topic,
              body: text.decode(Buffer.from(m.body)),
            })),
          }));
          assert.deepEqual(flat(back), flat(sent));
        },
      ),
    );
  });

  it("edge deliver frames: a 6,000-report burst of one turn becomes several frames under 1 MiB", () => {
    const body = JSON.stringify({
      id: "1",
      params: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}`, i * 1.5])),
    });
    const devices = Array.from({ length: 6_000 }, (_, i) => ({
      device: `p1/d${i}`,
      messages: [{ topic: `$sys/p1/d${i}/thing/property/post/reply`, body }],
    }));
    const max = 1024 * 1024;
    const frames = encodeEdgeDeliverFrames(devices, max);
    assert.ok(frames.length > 1);
    for (const f of frames) assert.ok(f.length <= max);
    assert.equal(
      frames.reduce((n, f) => n + decodeEdgeDeliver(f).length, 0),
      6_000,
    );
  });
});

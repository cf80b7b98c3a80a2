import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  COMMAND_HEADER_BYTES,
  type CommandHeader,
  decodeAcks,
  decodeCommand,
  decodeCommandAnswer,
  decodeCommands,
  decodeDeliver,
  decodeDelivered,
  decodeEdgeDeliver,
  decodeEvents,
  decodeGatewayReply,
  decodeTakeover,
  encodeAcks,
  encodeCommand,
  encodeCommandAnswer,
  encodeCommandBatch,
  encodeDelivered,
  encodeDeliverText,
  encodeEdgeDeliver,
  encodeEventFrames,
  encodeGatewayReply,
  encodeTakeover,
  encodeTopologyChanged,
  FrameError,
  MAX_DEVICE_KEY_BYTES,
  type ShadowEvent,
  Tag,
} from "../src/index.js";

const utf8 = new TextEncoder();
const deviceHeader: CommandHeader = {
  op: "update",
  device: "p/d",
  dialect: "onenet",
  source: "device",
  corr: 3,
};
const event: ShadowEvent = {
  kind: "rejected",
  device: "p/d",
  dialect: "aliyun",
  source: "device",
  op: "update",
  error: { _tag: "InvalidJson", detail: "x" },
} as unknown as ShadowEvent;

interface Family {
  readonly name: string;
  readonly tags: readonly number[];
  readonly decode: (frame: Uint8Array) => unknown;
  readonly sample: Uint8Array;
}

const command = encodeCommand(deviceHeader, utf8.encode('{"a":1}'));
const FAMILIES: readonly Family[] = [
  { name: "command", tags: [Tag.Command], decode: decodeCommand, sample: command },
  {
    name: "commands",
    tags: [Tag.Command, Tag.CommandBatch],
    decode: decodeCommands,
    sample: encodeCommandBatch([command, command]),
  },
  { name: "acks", tags: [Tag.Acks], decode: decodeAcks, sample: encodeAcks([1, 0xffffffff]) },
  {
    name: "events",
    tags: [Tag.Events],
    decode: decodeEvents,
    sample: utf8.encode(encodeEventFrames([event], 1 << 20)[0] as string),
  },
  {
    name: "command answer",
    tags: [Tag.CommandAnswer],
    decode: decodeCommandAnswer,
    sample: utf8.encode(encodeCommandAnswer({ ok: true, version: 3 })),
  },
  {
    name: "deliver",
    tags: [Tag.Deliver],
    decode: decodeDeliver,
    sample: encodeDeliverText([{ topic: "t", body: "b" }]),
  },
  {
    name: "edge deliver",
    tags: [Tag.EdgeDeliver],
    decode: decodeEdgeDeliver,
    sample: encodeEdgeDeliver([{ device: "p/d", messages: [{ topic: "t", body: "b" }] }]),
  },
  { name: "take-over", tags: [Tag.Takeover], decode: decodeTakeover, sample: encodeTakeover("s") },
  {
    name: "gateway reply",
    tags: [Tag.GatewayReply],
    decode: decodeGatewayReply,
    sample: encodeGatewayReply("property/get", utf8.encode('{"id":"1"}')),
  },
  {
    name: "direct service reply",
    tags: [Tag.GatewayReply],
    decode: decodeGatewayReply,
    sample: encodeGatewayReply(
      { direct: { kind: "service/invoke", identifier: "réboot" } },
      utf8.encode('{"id":"1"}'),
    ),
  },
  {
    name: "delivered",
    tags: [Tag.GatewayDelivered],
    decode: decodeDelivered,
    sample: encodeDelivered(true),
  },
];

const ALL_TAGS: readonly number[] = Object.values(Tag);
/** Bytes no frame starts with: none, JSON's `{` and `[`, and the ends of the byte. */
const UNKNOWN_TAGS = [0, 12, 0x5b, 0x7b, 0xff];

/** Decodes, and fails the test on any throw but a FrameError. */
const decodeOrRefuse = (family: Family, frame: Uint8Array): void => {
  try {
    family.decode(frame);
  } catch (error) {
    assert.ok(error instanceof FrameError, `${family.name}: ${String(error)}`);
  }
};

describe("frame tags", () => {
  it("are one table of distinct bytes, none of them JSON's first", () => {
    assert.equal(new Set(ALL_TAGS).size, ALL_TAGS.length);
    for (const tag of UNKNOWN_TAGS) assert.ok(!ALL_TAGS.includes(tag));
  });

  it("every frame starts with its family's tag and reads back", () => {
    for (const family of FAMILIES) {
      assert.ok(family.tags.includes(family.sample[0] as number), family.name);
      family.decode(family.sample);
    }
    assert.equal(encodeTopologyChanged()[0], Tag.Topology);
  });

  it("every decoder refuses another family's tag and an unknown tag with a FrameError", () => {
    for (const family of FAMILIES)
      for (const tag of [...ALL_TAGS, ...UNKNOWN_TAGS]) {
        if (family.tags.includes(tag)) continue;
        const frame = new Uint8Array(family.sample);
        frame[0] = tag;
        assert.throws(() => family.decode(frame), FrameError, `${family.name} with tag ${tag}`);
      }
  });

  it("every decoder refuses an empty frame with a FrameError", () => {
    for (const family of FAMILIES)
      assert.throws(() => family.decode(new Uint8Array(0)), FrameError, family.name);
  });

  it("every decoder reads a frame cut anywhere or refuses it with a FrameError", () => {
    for (const family of FAMILIES)
      for (let cut = 0; cut <= family.sample.length; cut++)
        decodeOrRefuse(family, family.sample.subarray(0, cut));
  });

  it("every decoder reads any bytes after its tag or refuses them with a FrameError", () => {
    for (const family of FAMILIES)
      fc.assert(
        fc.property(
          fc.constantFrom(...family.tags),
          fc.uint8Array({ maxLength: 64 }),
          (tag, rest) => decodeOrRefuse(family, Uint8Array.of(tag, ...rest)),
        ),
      );
  });
});

describe("frame length bounds", () => {
  it("a command's device key: at 65,535 bytes it is carried, one byte past it is refused", () => {
    const at = "k".repeat(MAX_DEVICE_KEY_BYTES);
    const frame = encodeCommand({ ...deviceHeader, device: at }, new Uint8Array(0));
    assert.equal(decodeCommand(frame).header.device, at);
    assert.throws(
      () => encodeCommand({ ...deviceHeader, device: `${at}k` }, new Uint8Array(0)),
      RangeError,
    );
  });

  it("a command frame: whole at its header and key, refused one byte short of either", () => {
    const bare = encodeCommand({ ...deviceHeader, device: "" }, new Uint8Array(0));
    assert.equal(bare.length, COMMAND_HEADER_BYTES);
    assert.equal(decodeCommand(bare).header.device, "");
    assert.throws(() => decodeCommand(bare.subarray(0, COMMAND_HEADER_BYTES - 1)), FrameError);
    const keyed = encodeCommand(deviceHeader, new Uint8Array(0));
    assert.equal(decodeCommand(keyed).payload.length, 0);
    assert.throws(() => decodeCommand(keyed.subarray(0, keyed.length - 1)), FrameError);
  });

  it("an ack frame holds exactly the ids it counts: one byte short or past is refused", () => {
    const frame = encodeAcks([7, 8]);
    assert.equal(frame.length, 5 + 4 * 2);
    assert.deepEqual(decodeAcks(frame), [7, 8]);
    assert.throws(() => decodeAcks(frame.subarray(0, frame.length - 1)), FrameError);
    assert.throws(() => decodeAcks(Uint8Array.of(...frame, 0)), FrameError);
    assert.deepEqual(decodeAcks(encodeAcks([])), []);
    assert.throws(() => decodeAcks(Uint8Array.of(Tag.Acks, 0, 0, 0)), FrameError);
  });

  it("a delivered answer is its tag and one byte 0 or 1", () => {
    assert.equal(decodeDelivered(encodeDelivered(false)), false);
    assert.throws(() => decodeDelivered(Uint8Array.of(Tag.GatewayDelivered)), FrameError);
    assert.throws(() => decodeDelivered(Uint8Array.of(Tag.GatewayDelivered, 2)), FrameError);
    assert.throws(() => decodeDelivered(Uint8Array.of(Tag.GatewayDelivered, 1, 0)), FrameError);
  });

  it("a turn's events: one frame at exactly max bytes, two one byte under it", () => {
    const events = [event, { ...event, device: "p/e" }] as ShadowEvent[];
    const whole = encodeEventFrames(events, 1 << 20);
    assert.equal(whole.length, 1);
    const size = Buffer.byteLength(whole[0] as string, "utf8");
    assert.deepEqual(encodeEventFrames(events, size), whole);
    const split = encodeEventFrames(events, size - 1);
    assert.equal(split.length, 2);
    for (const frame of split) assert.ok(Buffer.byteLength(frame, "utf8") <= size - 1);
    assert.deepEqual(
      split.flatMap((frame) => decodeEvents(utf8.encode(frame))),
      decodeEvents(utf8.encode(whole[0] as string)),
    );
  });

  it("a JSON frame that is not JSON, or not the right shape, is a FrameError", () => {
    assert.throws(() => decodeEvents(Uint8Array.of(Tag.Events, 0x7b)), FrameError);
    assert.throws(
      () => decodeEvents(utf8.encode(`${String.fromCharCode(Tag.Events)}{}`)),
      FrameError,
    );
    assert.throws(
      () => decodeCommandAnswer(utf8.encode(`${String.fromCharCode(Tag.CommandAnswer)}[]`)),
      FrameError,
    );
  });
});

describe("cloud commands", () => {
  it("carry no dialect: a cloud caller's command has none on the wire", () => {
    const frame = encodeCommand({ op: "get", device: "p/d", source: "cloud" }, new Uint8Array(0));
    assert.equal(frame[2], 0);
    const { header } = decodeCommand(frame);
    assert.equal(header.dialect, undefined);
    assert.equal(header.source, "cloud");
  });
});

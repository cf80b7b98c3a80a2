import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RepliedCall } from "@umbra/dialects";
import fc from "fast-check";
import {
  decodeAcks,
  decodeCommand,
  decodeCommands,
  decodeDeliver,
  decodeEdgeDeliver,
  decodeGatewayReply,
  decodeTakeover,
  encodeAcks,
  encodeCommand,
  encodeCommandBatch,
  encodeDeliverText,
  encodeEdgeDeliver,
  encodeGatewayReply,
  encodeTakeover,
  FrameError,
  Tag,
} from "../src/index.js";

describe("command frames", () => {
  it("carry every op, the cloud's function calls included", () => {
    for (const op of ["update", "get", "delete", "twin", "function"] as const) {
      const header = { op, device: "p/d", source: "cloud" } as const;
      const payload = new TextEncoder().encode('{"check":{}}');
      const decoded = decodeCommands(encodeCommand(header, payload));
      assert.equal(decoded.length, 1);
      assert.equal(decoded[0]?.header.op, op);
      assert.deepEqual(new Uint8Array(decoded[0]?.payload ?? []), payload);
    }
  });

  it("carry the header and the payload bytes unchanged", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.option(fc.nat(65_535), { nil: undefined }),
        fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
        fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
        (device, payload, packetId, shadow, token) => {
          const header =
            packetId === undefined
              ? ({
                  op: "update",
                  device,
                  dialect: "onenet",
                  source: "device",
                  shadow,
                  token,
                } as const)
              : ({
                  op: "update",
                  device,
                  dialect: "aws",
                  source: "device",
                  corr: 7,
                  packetId,
                  dup: true,
                  shadow,
                  token,
                } as const);
          const decoded = decodeCommand(encodeCommand(header, payload));
          assert.deepEqual(
            decoded.header,
            packetId === undefined
              ? { ...header, corr: undefined, packetId: undefined, dup: undefined }
              : header,
          );
          assert.deepEqual([...decoded.payload], [...payload]);
        },
      ),
    );
  });

  it("refuse a frame cut short", () => {
    const frame = encodeCommand(
      { op: "get", device: "p/d", dialect: "onenet", source: "device" },
      new Uint8Array(),
    );
    assert.throws(() => decodeCommand(frame.subarray(0, 5)), FrameError);
    assert.throws(() => decodeCommand(new Uint8Array([1])), FrameError);
    const unknownOp = new Uint8Array(frame);
    unknownOp[1] = 9;
    assert.throws(() => decodeCommand(unknownOp), FrameError);
  });

  it("refuse a frame cut in its shadow name, at every length", () => {
    const frame = encodeCommand(
      { op: "get", device: "p/d", dialect: "aws", source: "device", shadow: "lamp" },
      new Uint8Array(),
    );
    assert.equal(decodeCommand(frame).header.shadow, "lamp");
    for (let cut = 16; cut < frame.length; cut++)
      assert.throws(() => decodeCommand(frame.subarray(0, cut)), FrameError, `cut at ${cut}`);
  });

  it("carry a topic token after the shadow name, and refuse a frame cut in it", () => {
    const frame = encodeCommand(
      { op: "get", device: "p/d", dialect: "azure", source: "device", shadow: "s", token: "42" },
      new Uint8Array([7]),
    );
    const decoded = decodeCommand(frame);
    assert.equal(decoded.header.shadow, "s");
    assert.equal(decoded.header.token, "42");
    assert.deepEqual([...decoded.payload], [7]);
    const tokenOnly = encodeCommand(
      { op: "get", device: "p/d", dialect: "azure", source: "device", token: "" },
      new Uint8Array(),
    );
    assert.equal(decodeCommand(tokenOnly).header.token, "");
    for (let cut = 16; cut < frame.length - 1; cut++)
      assert.throws(() => decodeCommand(frame.subarray(0, cut)), FrameError, `cut at ${cut}`);
  });

  it("refuse to encode a token over 255 bytes", () => {
    assert.throws(
      () =>
        encodeCommand(
          { op: "get", device: "p/d", source: "device", token: "x".repeat(256) },
          new Uint8Array(),
        ),
      RangeError,
    );
  });

  it("refuse to encode a shadow name over 255 bytes", () => {
    assert.throws(
      () =>
        encodeCommand(
          { op: "get", device: "p/d", source: "cloud", shadow: "é".repeat(128) },
          new Uint8Array(),
        ),
      RangeError,
    );
  });
});

describe("command batches", () => {
  it("carry every command in order; a single frame reads as a batch of one", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.uint8Array({ maxLength: 100 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (items) => {
          const frames = items.map(([device, payload]) =>
            encodeCommand({ op: "update", device, dialect: "onenet", source: "device" }, payload),
          );
          const decoded = decodeCommands(encodeCommandBatch(frames));
          assert.deepEqual(
            decoded.map((c) => [c.header.device, [...c.payload]]),
            items.map(([device, payload]) => [device, [...payload]]),
          );
          assert.equal(decodeCommands(frames[0] as Uint8Array).length, 1);
        },
      ),
    );
  });

  it("refuse a batch cut in a command", () => {
    const frame = encodeCommand(
      { op: "get", device: "p/d", dialect: "onenet", source: "device" },
      new Uint8Array(),
    );
    const batch = encodeCommandBatch([frame, frame]);
    assert.throws(() => decodeCommands(batch.subarray(0, batch.length - 3)), FrameError);
  });
});

describe("outbound frames", () => {
  it("carry text payloads as their UTF-8 bytes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ topic: fc.string(), body: fc.string({ unit: "binary" }) }), {
          maxLength: 5,
        }),
        (messages) => {
          const decoded = decodeDeliver(encodeDeliverText(messages));
          const utf8 = new TextEncoder();
          assert.deepEqual(
            decoded.map((m) => [m.topic, [...m.payload]]),
            messages.map((m) => [m.topic, [...utf8.encode(m.body)]]),
          );
        },
      ),
    );
  });

  it("carry several devices' messages to an edge, each device's in order", () => {
    const message = fc.record({ topic: fc.string(), body: fc.string({ unit: "binary" }) });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            device: fc.string({ unit: "binary" }),
            messages: fc.array(message, { maxLength: 4 }),
          }),
          { maxLength: 5 },
        ),
        (devices) => {
          const utf8 = new TextEncoder();
          const decoded = decodeEdgeDeliver(encodeEdgeDeliver(devices));
          assert.deepEqual(
            decoded.map((d) => [d.device, d.messages.map((m) => [m.topic, [...m.payload]])]),
            devices.map((d) => [
              // Lone surrogates do not survive UTF-8; device keys are validated names.
              new TextDecoder().decode(utf8.encode(d.device)),
              d.messages.map((m) => [m.topic, [...utf8.encode(m.body)]]),
            ]),
          );
        },
      ),
    );
  });

  it("refuse an edge deliver frame cut anywhere", () => {
    const first = { device: "p/d", messages: [{ topic: "t", body: "abc" }] };
    const frame = encodeEdgeDeliver([
      first,
      { device: "p/e", messages: [{ topic: "u", body: "xyz" }] },
    ]);
    // A cut right after the first device is a whole, shorter frame.
    const boundary = encodeEdgeDeliver([first]).length;
    for (let cut = 2; cut < frame.length; cut++)
      if (cut !== boundary)
        assert.throws(() => decodeEdgeDeliver(frame.subarray(0, cut)), FrameError, `cut at ${cut}`);
  });

  it("refuse a deliver frame cut in a payload", () => {
    const frame = encodeDeliverText([{ topic: "t", body: "abc" }]);
    assert.throws(() => decodeDeliver(frame.subarray(0, frame.length - 1)), FrameError);
  });

  it("carry take-overs and acks", () => {
    assert.equal(decodeTakeover(encodeTakeover("session-1")), "session-1");
    assert.deepEqual(decodeAcks(encodeAcks([1, 2, 300])), [1, 2, 300]);
  });
});

describe("gateway reply frames", () => {
  const payload = new TextEncoder().encode('{"id":"12","code":200}');
  const calls: RepliedCall[] = [
    "property/get",
    "property/set",
    "service/invoke",
    { direct: { kind: "property/get" } },
    { direct: { kind: "property/set" } },
    { direct: { kind: "service/invoke", identifier: "reboot" } },
    { direct: { kind: "service/invoke", identifier: "重启" } },
    { direct: { kind: "service/invoke", identifier: "x".repeat(300) } },
  ];

  it("carry every call, a sub-device's or a direct one with its service, and the payload unchanged", () => {
    for (const call of calls) {
      const read = decodeGatewayReply(encodeGatewayReply(call, payload));
      assert.deepEqual(read.call, call);
      assert.deepEqual(read.payload, payload);
    }
  });

  it("keep a sub-device call's frame as seed 003's edges sent it: tag, code 1–3, payload", () => {
    const frame = encodeGatewayReply("property/set", payload);
    assert.deepEqual(frame, Uint8Array.of(Tag.GatewayReply, 2, ...payload));
    assert.equal(encodeGatewayReply({ direct: { kind: "property/set" } }, payload)[1], 5);
  });

  it("refuse an unknown call code, a service identifier cut short or not UTF-8", () => {
    for (const code of [0, 7, 255])
      assert.throws(() => decodeGatewayReply(Uint8Array.of(Tag.GatewayReply, code)), FrameError);
    const frame = encodeGatewayReply(
      { direct: { kind: "service/invoke", identifier: "reboot" } },
      new Uint8Array(0),
    );
    assert.equal(frame.length, 4 + 6);
    for (let cut = 1; cut < frame.length; cut++)
      assert.throws(() => decodeGatewayReply(frame.subarray(0, cut)), FrameError, `cut at ${cut}`);
    assert.throws(
      () => decodeGatewayReply(Uint8Array.of(Tag.GatewayReply, 6, 0, 2, 0xc3, 0x28)),
      FrameError,
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Packet } from "mqtt-packet";
import { Reason } from "../src/index.js";
import {
  frame,
  mqttString,
  PRODUCT,
  RawClient,
  rawConnect,
  startEdge,
  topicOf,
  u16,
  versionName,
} from "./helpers.js";

/**
 * MQTT 3.1.1 §1.5.3 / §4.8 and MQTT 5 §1.5.4, §2.2.2, §4.13: what is malformed or a
 * protocol error closes the connection (MQTT 5: with the reason code; before CONNACK,
 * in a CONNACK). mqtt-packet lets each of these through on its own.
 */

const UPDATE = topicOf("d1", "image/update");
const BAD_UTF8 = Buffer.from([0x74, 0xff]); // "t\xFF"
const NUL = Buffer.from([0x74, 0x00]);

/** What the edge sent before it closed: CONNACK codes, DISCONNECT reason codes. */
const codesOf = (packets: Packet[]): string[] =>
  packets.map((packet) => {
    if (packet.cmd === "connack") return `connack ${packet.reasonCode ?? packet.returnCode}`;
    if (packet.cmd === "disconnect") return `disconnect ${packet.reasonCode}`;
    return packet.cmd;
  });

/** Opens a raw connection, sends `bytes` as the first packet, returns what came back. */
const connectWith = async (
  t: Parameters<typeof startEdge>[0],
  version: 4 | 5,
  bytes: Buffer,
): Promise<{ codes: string[]; authenticateCalls: number }> => {
  const edge = await startEdge(t);
  const client = await RawClient.open(t, edge, version);
  client.socket.write(bytes);
  const codes = codesOf(await client.closedAfter());
  return { codes, authenticateCalls: edge.backend.authenticateCalls };
};

describe("strict CONNECT", () => {
  for (const version of [4, 5] as const) {
    const refusedWith = (reason: number) => (version === 5 ? [`connack ${reason}`] : []);
    const cases: [string, Buffer, number][] = [
      [
        "a client id of ill-formed UTF-8 (t\\xFF does not become t\\uFFFD)",
        rawConnect({ level: version, clientId: BAD_UTF8 }),
        Reason.malformedPacket,
      ],
      [
        "a client id containing U+0000",
        rawConnect({ level: version, clientId: NUL }),
        Reason.malformedPacket,
      ],
      [
        "a user name of ill-formed UTF-8",
        rawConnect({
          level: version,
          clientId: "d1",
          rest: [mqttString(Buffer.from([0x50, 0xc0, 0x80])), mqttString("secret")],
        }),
        Reason.malformedPacket,
      ],
      [
        "a will of QoS 3",
        rawConnect({
          level: version,
          clientId: "d1",
          flags: 0xc2 | 0x04 | 0x18,
          rest: [
            ...(version === 5 ? [Buffer.from([0])] : []),
            mqttString(UPDATE),
            mqttString("bye"),
            mqttString(PRODUCT),
            mqttString("secret"),
          ],
        }),
        Reason.malformedPacket,
      ],
      [
        "bytes after the password",
        rawConnect({
          level: version,
          clientId: "d1",
          rest: [mqttString(PRODUCT), mqttString("secret"), Buffer.from([1, 2])],
        }),
        Reason.malformedPacket,
      ],
    ];
    for (const [what, bytes, reason] of cases) {
      it(`refuses ${what} without authenticating (${versionName(version)})`, async (t) => {
        const { codes, authenticateCalls } = await connectWith(t, version, bytes);
        assert.deepEqual(codes, refusedWith(reason));
        assert.equal(authenticateCalls, 0);
      });
    }
  }

  it("refuses a password without a user name (MQTT 3.1.1)", async (t) => {
    const bytes = rawConnect({ level: 4, clientId: "d1", flags: 0x42, rest: [mqttString("x")] });
    const { codes, authenticateCalls } = await connectWith(t, 4, bytes);
    assert.deepEqual(codes, []);
    assert.equal(authenticateCalls, 0);
  });

  const v5Cases: [string, number[], number][] = [
    [
      "a duplicated property (Receive Maximum twice)",
      [0x21, 0, 5, 0x21, 0, 6],
      Reason.protocolError,
    ],
    ["Receive Maximum 0", [0x21, 0, 0], Reason.protocolError],
    ["Maximum Packet Size 0", [0x27, 0, 0, 0, 0], Reason.protocolError],
    ["Request Problem Information 2", [0x17, 2], Reason.protocolError],
    ["Request Response Information 2", [0x19, 2], Reason.protocolError],
    ["a user property cut short", [0x26, 0, 1, 0x61, 0, 9, 0x62], Reason.malformedPacket],
    ["a user property of ill-formed UTF-8", [0x26, 0, 1, 0x61, 0, 1, 0xff], Reason.malformedPacket],
    ["a property CONNECT may not carry (Topic Alias)", [0x23, 0, 1], Reason.malformedPacket],
    ["an unknown property", [0x7f, 0], Reason.malformedPacket],
    ["authentication data without a method", [0x16, 0, 1, 0], Reason.protocolError],
  ];
  for (const [what, properties, reason] of v5Cases) {
    const shown = `0x${reason.toString(16)}`;
    it(`refuses ${what} with CONNACK ${shown} (MQTT 5)`, async (t) => {
      const bytes = rawConnect({ level: 5, clientId: "d1", properties: Buffer.from(properties) });
      const { codes, authenticateCalls } = await connectWith(t, 5, bytes);
      assert.deepEqual(codes, [`connack ${reason}`]);
      assert.equal(authenticateCalls, 0);
    });
  }

  it("accepts two user properties of the same name (MQTT 5)", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge, 5);
    const pair = [0x26, 0, 1, 0x61, 0, 1, 0x62];
    client.socket.write(
      rawConnect({ level: 5, clientId: "d1", properties: Buffer.from([...pair, ...pair]) }),
    );
    const connack = await client.next();
    assert.equal(connack.cmd === "connack" && connack.reasonCode, 0);
  });
});

describe("strict packets of an open session", () => {
  for (const version of [4, 5] as const) {
    const closedWith = (reason: number) => (version === 5 ? [`disconnect ${reason}`] : []);
    const noProperties = version === 5 ? [Buffer.from([0])] : [];
    const cases: [string, Buffer, number][] = [
      [
        "a QoS 0 PUBLISH whose topic is ill-formed UTF-8",
        frame(0x30, mqttString(Buffer.concat([Buffer.from(UPDATE), BAD_UTF8])), ...noProperties),
        Reason.malformedPacket,
      ],
      [
        "a QoS 1 PUBLISH whose topic contains U+0000",
        frame(0x32, mqttString(Buffer.concat([Buffer.from(UPDATE), NUL])), u16(1), ...noProperties),
        Reason.malformedPacket,
      ],
      [
        "a QoS 1 PUBLISH with packet identifier 0",
        frame(0x32, mqttString(UPDATE), u16(0), ...noProperties, Buffer.from("{}")),
        Reason.protocolError,
      ],
      [
        "a QoS 0 PUBLISH with DUP set",
        frame(0x38, mqttString(UPDATE), ...noProperties, Buffer.from("{}")),
        Reason.malformedPacket,
      ],
      [
        "a PUBLISH of QoS 3",
        frame(0x36, mqttString(UPDATE), u16(1), ...noProperties),
        Reason.malformedPacket,
      ],
      [
        "a SUBSCRIBE whose filter is ill-formed UTF-8",
        frame(
          0x82,
          u16(1),
          ...noProperties,
          mqttString(Buffer.from([0x61, 0xed, 0xa0, 0x80])),
          Buffer.from([0]),
        ),
        Reason.malformedPacket,
      ],
      [
        "a SUBSCRIBE whose filter contains U+0000",
        frame(
          0x82,
          u16(1),
          ...noProperties,
          mqttString(Buffer.concat([Buffer.from(`${UPDATE}/`), NUL])),
          Buffer.from([0]),
        ),
        Reason.malformedPacket,
      ],
      [
        "a SUBSCRIBE with packet identifier 0",
        frame(0x82, u16(0), ...noProperties, mqttString(UPDATE), Buffer.from([0])),
        Reason.protocolError,
      ],
      [
        "a SUBSCRIBE with reserved flag bits",
        frame(0x80, u16(1), ...noProperties, mqttString(UPDATE), Buffer.from([0])),
        Reason.malformedPacket,
      ],
      [
        "an UNSUBSCRIBE whose filter is ill-formed UTF-8",
        frame(0xa2, u16(1), ...noProperties, mqttString(BAD_UTF8)),
        Reason.malformedPacket,
      ],
      ["a PINGREQ with a body", frame(0xc0, Buffer.from([0])), Reason.malformedPacket],
    ];
    for (const [what, bytes, reason] of cases) {
      it(`closes on ${what} (${versionName(version)})`, async (t) => {
        const edge = await startEdge(t);
        const client = await RawClient.connected(t, edge, "d1", version);
        client.socket.write(bytes);
        assert.deepEqual(codesOf(await client.closedAfter()), closedWith(reason));
        assert.equal(edge.backend.publishes.length, 0);
      });
    }
  }

  const v5Cases: [string, Buffer, number][] = [
    [
      "a PUBLISH cut inside its packet identifier",
      frame(0x32, mqttString(UPDATE), Buffer.from([0])),
      Reason.malformedPacket,
    ],
    [
      "a PUBLISH whose properties run past its end",
      frame(0x30, mqttString(UPDATE), Buffer.from([5, 0x01])),
      Reason.malformedPacket,
    ],
    [
      "a PUBLISH with a property cut short (Message Expiry Interval)",
      frame(0x30, mqttString(UPDATE), Buffer.from([3, 0x02, 0, 0])),
      Reason.malformedPacket,
    ],
    [
      "a PUBLISH with a duplicated property",
      frame(0x30, mqttString(UPDATE), Buffer.from([4, 0x01, 0, 0x01, 0])),
      Reason.protocolError,
    ],
    [
      "a PUBLISH with a subscription identifier",
      frame(0x30, mqttString(UPDATE), Buffer.from([2, 0x0b, 1])),
      Reason.protocolError,
    ],
    [
      "a PUBLISH whose content type is ill-formed UTF-8",
      frame(0x30, mqttString(UPDATE), Buffer.from([4, 0x03, 0, 1, 0xc1])),
      Reason.malformedPacket,
    ],
    [
      "a SUBSCRIBE with subscription options of retain handling 3",
      frame(0x82, u16(1), Buffer.from([0]), mqttString(UPDATE), Buffer.from([0x30])),
      Reason.malformedPacket,
    ],
  ];
  for (const [what, bytes, reason] of v5Cases) {
    it(`closes on ${what} with 0x${reason.toString(16)} (MQTT 5)`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", 5);
      client.socket.write(bytes);
      assert.deepEqual(codesOf(await client.closedAfter()), [`disconnect ${reason}`]);
      assert.equal(edge.backend.publishes.length, 0);
    });
  }

  it("takes an MQTT 5 PUBLISH with well-formed properties and a multi-byte topic", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1", 5);
    const userProperty = [0x26, 0, 1, 0x6b, 0, 2, 0xc3, 0xa9];
    client.socket.write(
      frame(
        0x32,
        mqttString(UPDATE),
        u16(7),
        Buffer.from([userProperty.length + 2, 0x01, 1, ...userProperty]),
        Buffer.from("{}"),
      ),
    );
    const puback = await client.next();
    assert.equal(puback.cmd, "puback");
    assert.equal(edge.backend.publishes.length, 1);
  });
});

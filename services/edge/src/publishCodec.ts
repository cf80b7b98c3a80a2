import type { IPublishPacket } from "mqtt-packet";
import { bodyOffset } from "./framing.js";
import { isMqttUtf8 } from "./utf8.js";

/**
 * PUBLISH, the packet of the hot path, read and written by hand. mqtt-packet's parser
 * copies each packet through a BufferList and calls `debug` per field; together that
 * was ~10 % of a busy edge. Anything unusual (MQTT 5 properties, QoS 0 with DUP, a
 * malformed packet) returns undefined, and strict.ts then the full parser take the
 * packet instead.
 */
export const readPublish = (
  packet: Buffer,
  protocolVersion: number,
): IPublishPacket | undefined => {
  const flags = packet[0] as number;
  const qos = ((flags >> 1) & 3) as 0 | 1 | 2 | 3;
  const dup = (flags & 8) !== 0;
  if (qos === 3 || (qos === 0 && dup)) return undefined;
  // qos is 0, 1 or 2 from here (QoS 2 is refused by the handler, as for a parsed packet).
  let at = bodyOffset(packet);
  if (at + 2 > packet.length) return undefined;
  const topicEnd = at + 2 + packet.readUInt16BE(at);
  if (topicEnd > packet.length) return undefined;
  // Ill-formed UTF-8 or U+0000 (strict.ts refuses the packet); a byte loop, no copy.
  if (!isMqttUtf8(packet, at + 2, topicEnd)) return undefined;
  const topic = packet.toString("utf8", at + 2, topicEnd);
  at = topicEnd;
  // 0 for QoS 0, which has none: one object shape for every publish.
  let messageId = 0;
  if (qos > 0) {
    if (at + 2 > packet.length) return undefined;
    messageId = packet.readUInt16BE(at);
    if (messageId === 0) return undefined; // not a packet identifier: strict.ts refuses it
    at += 2;
  }
  if (protocolVersion === 5) {
    // Only an empty property list is read here.
    if (at >= packet.length || packet[at] !== 0) return undefined;
    at += 1;
  }
  return {
    cmd: "publish",
    topic,
    payload: packet.subarray(at),
    qos,
    dup,
    retain: (flags & 1) !== 0,
    messageId,
  };
};

/** A QoS 0 PUBLISH of `topic` and `payload` (MQTT 5: with no properties). */
export const writePublishQos0 = (
  topic: string,
  payload: Uint8Array,
  protocolVersion: number,
): Buffer => {
  const topicLength = Buffer.byteLength(topic, "utf8");
  const remaining = 2 + topicLength + (protocolVersion === 5 ? 1 : 0) + payload.length;
  const lengthBytes = remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30;
  let at = 1;
  let rest = remaining;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest > 0) byte |= 0x80;
    out[at++] = byte;
  } while (rest > 0);
  out.writeUInt16BE(topicLength, at);
  at += 2 + out.write(topic, at + 2, "utf8");
  if (protocolVersion === 5) out[at++] = 0;
  out.set(payload, at);
  return out;
};

import type { OutboundText } from "@umbra/dialects";
import { expectTag, FrameError, Tag } from "./tags.js";

/**
 * Frames towards devices. On `umbra.dev.{pid}.{dn}`: messages to deliver to one device
 * (a deliver frame), a session take-over, a gateway's topology change. On an edge's
 * inbox `umbra.edge.{edge}`: messages for several of its devices (an edge deliver
 * frame; acks share that subject, told apart by their tag). Payloads are
 * length-prefixed so the edge never parses one it only forwards.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface OutboundMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** One device's messages in an edge deliver frame. */
export interface DeviceMessages<M> {
  /** The device key, `pid/dn`. */
  readonly device: string;
  readonly messages: readonly M[];
}

/** Worst-case bytes of messages written as UTF-8: 3 bytes per UTF-16 unit. */
const messagesBound = (messages: readonly OutboundText[]): number => {
  let bound = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as OutboundText;
    bound += 6 + 3 * (m.topic.length + m.body.length);
  }
  return bound;
};

/** Writes `[u16 topic length][topic][u32 payload length][payload]` per message; the end. */
const writeMessages = (out: Buffer, at: number, messages: readonly OutboundText[]): number => {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as OutboundText;
    const topicLength = out.write(m.topic, at + 2, "utf8");
    if (topicLength > 0xffff) throw new RangeError("topic too long");
    out.writeUInt16BE(topicLength, at);
    at += 2 + topicLength;
    const payloadLength = out.write(m.body, at + 4, "utf8");
    out.writeUInt32BE(payloadLength, at);
    at += 4 + payloadLength;
  }
  return at;
};

/** Reads the messages written by `writeMessages` between `at` and `end` (payloads not copied). */
const readMessages = (
  frame: Uint8Array,
  view: DataView,
  at: number,
  end: number,
  out: OutboundMessage[],
): void => {
  while (at < end) {
    if (at + 2 > end) throw new FrameError("deliver frame cut in a topic length");
    const topicLength = view.getUint16(at);
    at += 2;
    if (at + topicLength + 4 > end) throw new FrameError("deliver frame cut in a topic");
    const topic = decoder.decode(frame.subarray(at, at + topicLength));
    at += topicLength;
    const payloadLength = view.getUint32(at);
    at += 4;
    if (at + payloadLength > end) throw new FrameError("deliver frame cut in a payload");
    out.push({ topic, payload: frame.subarray(at, at + payloadLength) });
    at += payloadLength;
  }
};

/**
 * A deliver frame, `[tag 1]` then per message `[u16 topic length][topic][u32 payload length]
 * [payload]`, with the payloads given as text and written as UTF-8 straight into the
 * frame: no intermediate `Uint8Array` per topic and payload, no second copy.
 * The buffer is sized for the worst case (3 bytes per UTF-16 unit) and cut to fit,
 * because measuring a rendered payload first walks its string twice. Measured: 4.6 → 2.4 µs
 * to render and frame an update/accepted; the reply service's CPU per round trip −11 %.
 */
export const encodeDeliverText = (messages: readonly OutboundText[]): Uint8Array => {
  const out = Buffer.allocUnsafe(1 + messagesBound(messages));
  out[0] = Tag.Deliver;
  return out.subarray(0, writeMessages(out, 1, messages));
};

/**
 * Deliver frames of at most `maxBytes` each (the server's `max_payload`, judged by the
 * worst case of 3 bytes per UTF-16 unit), the messages in order. A message too large
 * alone gets a frame of its own (the bus drops it if it really is too large).
 */
export const encodeDeliverTextFrames = (
  messages: readonly OutboundText[],
  maxBytes: number,
): Uint8Array[] => {
  if (1 + messagesBound(messages) <= maxBytes) return [encodeDeliverText(messages)];
  const out: Uint8Array[] = [];
  let start = 0;
  let bound = 1;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as OutboundText;
    const size = 6 + 3 * (m.topic.length + m.body.length);
    if (i > start && bound + size > maxBytes) {
      out.push(encodeDeliverText(messages.slice(start, i)));
      start = i;
      bound = 1;
    }
    bound += size;
  }
  out.push(encodeDeliverText(messages.slice(start)));
  return out;
};

/** Reads a deliver frame (without copying payloads); throws FrameError if it is cut short. */
export const decodeDeliver = (frame: Uint8Array): OutboundMessage[] => {
  expectTag(frame, Tag.Deliver, "a deliver frame");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const out: OutboundMessage[] = [];
  readMessages(frame, view, 1, frame.length, out);
  return out;
};

/**
 * An edge deliver frame: `[tag 3]` then per device `[u16 key length][key][u32 length]` and
 * that device's messages as in a deliver frame. The reply service sends one per edge
 * per event-loop turn instead of one message per device.
 */
export const encodeEdgeDeliver = (devices: readonly DeviceMessages<OutboundText>[]): Uint8Array => {
  let bound = 1;
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i] as DeviceMessages<OutboundText>;
    bound += 6 + 3 * d.device.length + messagesBound(d.messages);
  }
  const out = Buffer.allocUnsafe(bound);
  out[0] = Tag.EdgeDeliver;
  let at = 1;
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i] as DeviceMessages<OutboundText>;
    const keyLength = out.write(d.device, at + 2, "utf8");
    if (keyLength > 0xffff) throw new RangeError("device key too long");
    out.writeUInt16BE(keyLength, at);
    at += 2 + keyLength;
    const end = writeMessages(out, at + 4, d.messages);
    out.writeUInt32BE(end - at - 4, at);
    at = end;
  }
  return out.subarray(0, at);
};

/**
 * Edge deliver frames of at most `maxBytes` each (judged by the worst case, as
 * `encodeDeliverTextFrames`), devices and messages in order: a device whose messages
 * do not fit one frame continues in the next (the edge reads each frame on its own).
 */
export const encodeEdgeDeliverFrames = (
  devices: readonly DeviceMessages<OutboundText>[],
  maxBytes: number,
): Uint8Array[] => {
  let total = 1;
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i] as DeviceMessages<OutboundText>;
    total += 6 + 3 * d.device.length + messagesBound(d.messages);
  }
  if (total <= maxBytes) return [encodeEdgeDeliver(devices)];
  const out: Uint8Array[] = [];
  let frame: DeviceMessages<OutboundText>[] = [];
  let bound = 1;
  for (const { device, messages } of devices) {
    const entry = 6 + 3 * device.length;
    let current: OutboundText[] = [];
    frame.push({ device, messages: current });
    bound += entry;
    for (const m of messages) {
      const size = 6 + 3 * (m.topic.length + m.body.length);
      if (bound + size > maxBytes && (current.length > 0 || frame.length > 1)) {
        if (current.length === 0) frame.pop();
        out.push(encodeEdgeDeliver(frame));
        current = [];
        frame = [{ device, messages: current }];
        bound = 1 + entry;
      }
      current.push(m);
      bound += size;
    }
  }
  out.push(encodeEdgeDeliver(frame));
  return out;
};

/** Reads an edge deliver frame (payloads not copied); throws FrameError if it is cut short. */
export const decodeEdgeDeliver = (frame: Uint8Array): DeviceMessages<OutboundMessage>[] => {
  expectTag(frame, Tag.EdgeDeliver, "an edge deliver frame");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const out: DeviceMessages<OutboundMessage>[] = [];
  let at = 1;
  while (at < frame.length) {
    if (at + 2 > frame.length) throw new FrameError("edge deliver frame cut in a key length");
    const keyLength = view.getUint16(at);
    at += 2;
    if (at + keyLength + 4 > frame.length)
      throw new FrameError("edge deliver frame cut in a device key");
    const device = decoder.decode(frame.subarray(at, at + keyLength));
    at += keyLength;
    const length = view.getUint32(at);
    at += 4;
    if (at + length > frame.length) throw new FrameError("edge deliver frame cut in messages");
    const messages: OutboundMessage[] = [];
    readMessages(frame, view, at, at + length, messages);
    out.push({ device, messages });
    at += length;
  }
  return out;
};

/** Sent by an edge that accepted a connection for a device: older sessions close. */
export const encodeTakeover = (sessionId: string): Uint8Array => {
  const id = encoder.encode(sessionId);
  const out = new Uint8Array(1 + id.length);
  out[0] = Tag.Takeover;
  out.set(id, 1);
  return out;
};

export const decodeTakeover = (frame: Uint8Array): string => {
  expectTag(frame, Tag.Takeover, "a take-over frame");
  return decoder.decode(frame.subarray(1));
};

const TOPOLOGY_FRAME = Uint8Array.of(Tag.Topology);

/**
 * Sent by the API on a gateway's device subject when it gains or loses a sub-device:
 * the edge holding it re-reads them. Only the tag.
 */
export const encodeTopologyChanged = (): Uint8Array => TOPOLOGY_FRAME;

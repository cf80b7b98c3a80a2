import type { JsonObject, MetadataTree, ShadowDocument, ShadowError } from "@umbra/core";

/**
 * Wire formats between services. Commands keep the device's payload bytes as they
 * arrived (the shard parses them once); small headers are JSON; outbound messages are
 * length-prefixed so the edge never parses a payload it only forwards.
 */

export type CommandOp = "update" | "get";
/** Which dialect a command came in through, so results are rendered the same way. */
export type Dialect = "onenet" | "cloud";

export interface CommandHeader {
  readonly op: CommandOp;
  /** `{pid}/{dn}` */
  readonly device: string;
  readonly dialect: Dialect;
  readonly source: "device" | "cloud";
  /** Set by an edge for a QoS 1 publish: echoed on the ack subject given as reply. */
  readonly corr?: number;
  /** QoS 1 packet id and DUP flag: a retransmission of an applied update is not re-applied. */
  readonly packetId?: number;
  readonly dup?: boolean;
}

export interface Command {
  readonly header: CommandHeader;
  readonly payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `[u16 header length][header JSON][payload]` */
export const encodeCommand = (header: CommandHeader, payload: Uint8Array): Uint8Array => {
  const head = encoder.encode(JSON.stringify(header));
  if (head.length > 0xffff) throw new RangeError("command header too long");
  const out = new Uint8Array(2 + head.length + payload.length);
  out[0] = head.length >>> 8;
  out[1] = head.length & 0xff;
  out.set(head, 2);
  out.set(payload, 2 + head.length);
  return out;
};

export class FrameError extends Error {
  override readonly name = "FrameError";
}

export const decodeCommand = (frame: Uint8Array): Command => {
  if (frame.length < 2) throw new FrameError("command frame shorter than its length prefix");
  const length = (frame[0] as number) * 256 + (frame[1] as number);
  if (frame.length < 2 + length) throw new FrameError("command frame shorter than its header");
  const header = JSON.parse(decoder.decode(frame.subarray(2, 2 + length))) as CommandHeader;
  if (typeof header !== "object" || header === null || typeof header.device !== "string")
    throw new FrameError("command header is not an object with a device");
  return { header, payload: frame.subarray(2 + length) };
};

/** What the shard publishes for every command it processed. */
export type ShadowEvent = AcceptedEvent | RejectedEvent | DocumentEvent;

interface EventBase {
  readonly device: string;
  readonly dialect: Dialect;
  readonly source: "device" | "cloud";
  readonly op: CommandOp;
}

/** An accepted write. `delta` (with its desired-side metadata) when desired ≠ reported after it. */
export interface AcceptedEvent extends EventBase {
  readonly kind: "accepted";
  readonly version: number;
  /** ms */
  readonly timestamp: number;
  readonly applied: { readonly desired?: JsonObject | null; readonly reported?: JsonObject | null };
  readonly delta?: JsonObject;
  readonly deltaMetadata?: MetadataTree;
}

export interface RejectedEvent extends EventBase {
  readonly kind: "rejected";
  readonly error: ShadowError;
}

/** A read: the whole document at `timestamp` (ms). */
export interface DocumentEvent extends EventBase {
  readonly kind: "document";
  readonly document: ShadowDocument;
  readonly timestamp: number;
}

/** Answer to a cloud client's request (NATS request/reply). */
export type CommandReply =
  | { readonly ok: true; readonly version: number; readonly document?: ShadowDocument }
  | { readonly ok: false; readonly error: ShadowError };

/** Acks of QoS 1 commands, batched per edge: the edge's correlation ids. */
export interface AckFrame {
  readonly c: readonly number[];
}

export const encodeAcks = (corrs: readonly number[]): Uint8Array =>
  encoder.encode(`{"c":[${corrs.join(",")}]}`);

export const decodeAcks = (frame: Uint8Array): readonly number[] => {
  const parsed = JSON.parse(decoder.decode(frame)) as AckFrame;
  return Array.isArray(parsed.c) ? parsed.c : [];
};

/** Outbound frames on `umbra.dev.{pid}.{dn}`: messages to deliver, or a session take-over. */
export const OUTBOUND_DELIVER = 1;
export const OUTBOUND_TAKEOVER = 2;

export interface OutboundMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** `[1]` then per message `[u16 topic length][topic][u32 payload length][payload]`. */
export const encodeDeliver = (messages: readonly OutboundMessage[]): Uint8Array => {
  const topics = messages.map((m) => encoder.encode(m.topic));
  let size = 1;
  for (let i = 0; i < messages.length; i++)
    size += 6 + (topics[i] as Uint8Array).length + (messages[i] as OutboundMessage).payload.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = OUTBOUND_DELIVER;
  let at = 1;
  for (let i = 0; i < messages.length; i++) {
    const topic = topics[i] as Uint8Array;
    const payload = (messages[i] as OutboundMessage).payload;
    view.setUint16(at, topic.length);
    out.set(topic, at + 2);
    at += 2 + topic.length;
    view.setUint32(at, payload.length);
    out.set(payload, at + 4);
    at += 4 + payload.length;
  }
  return out;
};

/** Reads a deliver frame (without copying payloads); throws FrameError if it is cut short. */
export const decodeDeliver = (frame: Uint8Array): OutboundMessage[] => {
  if (frame[0] !== OUTBOUND_DELIVER) throw new FrameError("not a deliver frame");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const out: OutboundMessage[] = [];
  let at = 1;
  while (at < frame.length) {
    if (at + 2 > frame.length) throw new FrameError("deliver frame cut in a topic length");
    const topicLength = view.getUint16(at);
    at += 2;
    if (at + topicLength + 4 > frame.length) throw new FrameError("deliver frame cut in a topic");
    const topic = decoder.decode(frame.subarray(at, at + topicLength));
    at += topicLength;
    const payloadLength = view.getUint32(at);
    at += 4;
    if (at + payloadLength > frame.length) throw new FrameError("deliver frame cut in a payload");
    out.push({ topic, payload: frame.subarray(at, at + payloadLength) });
    at += payloadLength;
  }
  return out;
};

/** Sent by an edge that accepted a connection for a device: older sessions close. */
export const encodeTakeover = (sessionId: string): Uint8Array => {
  const id = encoder.encode(sessionId);
  const out = new Uint8Array(1 + id.length);
  out[0] = OUTBOUND_TAKEOVER;
  out.set(id, 1);
  return out;
};

export const decodeTakeover = (frame: Uint8Array): string => {
  if (frame[0] !== OUTBOUND_TAKEOVER) throw new FrameError("not a takeover frame");
  return decoder.decode(frame.subarray(1));
};

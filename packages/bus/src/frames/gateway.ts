import type { GatewayCall, RepliedCall, ThingCall } from "@umbra/dialects";
import { expectTag, FrameError, Tag } from "./tags.js";

/** Frames of gateway calls (seed 003); the calls themselves travel as deliver frames. */

/**
 * The call a reply answers, one byte: 1–3 a gateway's call for a sub-device (the codes
 * seed 003 began with), 4–6 the same kinds made to the device itself (thing model). A
 * decoder that knows only 1–3 refuses 4–6 as unreadable and matches nothing with them.
 */
const CALL_CODES: Readonly<Record<GatewayCall, number>> = {
  "property/get": 1,
  "property/set": 2,
  "service/invoke": 3,
};
const CALLS_BY_CODE: readonly (GatewayCall | undefined)[] = [
  undefined,
  "property/get",
  "property/set",
  "service/invoke",
];
const DIRECT = 3;
/** A direct service call's identifier follows its code as `[length u16 BE][UTF-8]`. */
const MAX_IDENTIFIER_BYTES = 0xffff;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * `[tag 10][call code][identifier, direct service calls only][payload]`: what the edge
 * forwards from a device's reply topic.
 */
export const encodeGatewayReply = (call: RepliedCall, payload: Uint8Array): Uint8Array => {
  if (typeof call === "string") {
    const out = new Uint8Array(2 + payload.length);
    out[0] = Tag.GatewayReply;
    out[1] = CALL_CODES[call];
    out.set(payload, 2);
    return out;
  }
  const { direct } = call;
  const identifier =
    direct.kind === "service/invoke" ? utf8.encode(direct.identifier) : new Uint8Array(0);
  if (identifier.length > MAX_IDENTIFIER_BYTES)
    throw new RangeError(`service identifier of ${identifier.length} bytes`);
  const head = direct.kind === "service/invoke" ? 4 + identifier.length : 2;
  const out = new Uint8Array(head + payload.length);
  out[0] = Tag.GatewayReply;
  out[1] = DIRECT + CALL_CODES[direct.kind];
  if (direct.kind === "service/invoke") {
    out[2] = identifier.length >> 8;
    out[3] = identifier.length & 0xff;
    out.set(identifier, 4);
  }
  out.set(payload, head);
  return out;
};

export const decodeGatewayReply = (
  frame: Uint8Array,
): { readonly call: RepliedCall; readonly payload: Uint8Array } => {
  expectTag(frame, Tag.GatewayReply, "a gateway reply");
  const code = frame[1] ?? 0;
  const call = CALLS_BY_CODE[code];
  if (call !== undefined) return { call, payload: frame.subarray(2) };
  const kind = CALLS_BY_CODE[code - DIRECT];
  if (kind === undefined) throw new FrameError("gateway reply of no known call");
  if (kind !== "service/invoke") return { call: { direct: { kind } }, payload: frame.subarray(2) };
  if (frame.length < 4) throw new FrameError("gateway reply cut in its service identifier");
  const length = ((frame[2] as number) << 8) | (frame[3] as number);
  if (frame.length < 4 + length)
    throw new FrameError("gateway reply cut in its service identifier");
  let identifier: string;
  try {
    identifier = fromUtf8.decode(frame.subarray(4, 4 + length));
  } catch {
    throw new FrameError("gateway reply's service identifier is not UTF-8");
  }
  const direct: ThingCall = { kind, identifier };
  return { call: { direct }, payload: frame.subarray(4 + length) };
};

const DELIVERED = Uint8Array.of(Tag.GatewayDelivered, 1);
const NOT_DELIVERED = Uint8Array.of(Tag.GatewayDelivered, 0);

/** `[tag 11][0 | 1]`: the edge's answer to a call sent as a request, did the session take it. */
export const encodeDelivered = (delivered: boolean): Uint8Array =>
  delivered ? DELIVERED : NOT_DELIVERED;

export const decodeDelivered = (frame: Uint8Array): boolean => {
  expectTag(frame, Tag.GatewayDelivered, "a delivered answer");
  if (frame.length !== 2 || (frame[1] as number) > 1)
    throw new FrameError("delivered answer is not one byte 0 or 1");
  return frame[1] === 1;
};

import type { GatewayCall } from "@umbra/dialects";
import { expectTag, FrameError, Tag } from "./tags.js";

/** Frames of gateway calls (seed 003); the calls themselves travel as deliver frames. */

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

/** `[tag 10][call code][payload]`: what the edge forwards from a gateway's reply topic. */
export const encodeGatewayReply = (call: GatewayCall, payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(2 + payload.length);
  out[0] = Tag.GatewayReply;
  out[1] = CALL_CODES[call];
  out.set(payload, 2);
  return out;
};

export const decodeGatewayReply = (
  frame: Uint8Array,
): { readonly call: GatewayCall; readonly payload: Uint8Array } => {
  expectTag(frame, Tag.GatewayReply, "a gateway reply");
  const call = CALLS_BY_CODE[frame[1] ?? 0];
  if (call === undefined) throw new FrameError("gateway reply of no known call");
  return { call, payload: frame.subarray(2) };
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

import { expectTag, FrameError, Tag } from "./tags.js";

/** `[tag 7][u32 count]`. */
const ACKS_HEADER_BYTES = 5;

/**
 * Acks of QoS 1 commands, batched per edge: `[tag 7][u32 count]` then the edge's
 * correlation ids, a u32 each.
 */
export const encodeAcks = (corrs: readonly number[]): Uint8Array => {
  const out = Buffer.allocUnsafe(ACKS_HEADER_BYTES + 4 * corrs.length);
  out[0] = Tag.Acks;
  out.writeUInt32BE(corrs.length, 1);
  let at = ACKS_HEADER_BYTES;
  for (let i = 0; i < corrs.length; i++) {
    out.writeUInt32BE(corrs[i] as number, at);
    at += 4;
  }
  return out;
};

/** Ids one ack frame of `maxBytes` holds (at least one: a server's limit is far larger). */
export const acksPerFrame = (maxBytes: number): number =>
  Math.max(1, Math.floor((maxBytes - ACKS_HEADER_BYTES) / 4));

/**
 * Acks as frames of at most `maxBytes` each (the server's `max_payload`): one frame
 * unless a batch of thousands meets a small limit.
 */
export const encodeAckFrames = (corrs: readonly number[], maxBytes: number): Uint8Array[] => {
  const per = acksPerFrame(maxBytes);
  if (corrs.length <= per) return [encodeAcks(corrs)];
  const out: Uint8Array[] = [];
  for (let at = 0; at < corrs.length; at += per) out.push(encodeAcks(corrs.slice(at, at + per)));
  return out;
};

/** The ids of an ack frame; a FrameError unless it holds exactly as many as it says. */
export const decodeAcks = (frame: Uint8Array): number[] => {
  expectTag(frame, Tag.Acks, "acks");
  if (frame.length < ACKS_HEADER_BYTES) throw new FrameError("ack frame cut in its count");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = view.getUint32(1);
  if (frame.length !== ACKS_HEADER_BYTES + 4 * count)
    throw new FrameError(`ack frame of ${frame.length} bytes says ${count} ids`);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = view.getUint32(ACKS_HEADER_BYTES + 4 * i);
  return out;
};

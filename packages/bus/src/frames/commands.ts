import type { JsonObject } from "@umbra/core";
import type { CommandOp, DialectName } from "@umbra/dialects";
import { expectTag, FrameError, Tag } from "./tags.js";

/**
 * The payload of a `function` command: `queue` a call (seed 001: it becomes
 * `desired._function` once the calls before it have finished), or `check` the calls'
 * deadlines and retention now — every call, or the one `requestId` names, which must
 * exist. Either writes only if a call timed out or was cleaned up, or one was queued.
 */
export type FunctionCommand =
  | {
      readonly queue: {
        readonly funcKey: string;
        readonly params?: JsonObject;
        readonly timeoutMs?: number;
        readonly retentionMs?: number;
        /** Whether the device had a live session when the call was made (`isOnline`). */
        readonly online?: boolean;
      };
    }
  | { readonly check: { readonly requestId?: string } };

export interface CommandHeader {
  readonly op: CommandOp;
  /** `{pid}/{dn}` */
  readonly device: string;
  /**
   * The device dialect it came in through, so results are rendered the same way; none
   * for a cloud caller's command (`source: "cloud"`), which has no dialect.
   */
  readonly dialect?: DialectName | undefined;
  readonly source: "device" | "cloud";
  /** Set by an edge for a QoS 1 publish: echoed on the ack subject given as reply. */
  readonly corr?: number | undefined;
  /** QoS 1 packet id and DUP flag: a retransmission of an applied update is not re-applied. */
  readonly packetId?: number | undefined;
  readonly dup?: boolean | undefined;
  /**
   * A named shadow of the device (AWS `…/shadow/name/{shadow}/…`, the API's
   * `…/shadows/{name}`); `undefined`: the device's classic shadow. Partitioned by the
   * device, so a device's shadows live on one shard.
   */
  readonly shadow?: string | undefined;
  /**
   * A device's topic token (`TopicRequest.token`: Azure's `$rid`), handed to the
   * dialect's reader and echoed by the answers. At most `MAX_TOKEN_BYTES`.
   */
  readonly token?: string | undefined;
}

export interface Command {
  readonly header: CommandHeader;
  readonly payload: Uint8Array;
}

const decoder = new TextDecoder();

// Wire ids are positions: append, never reorder. Dialect 0 is none (a cloud command).
const OPS: readonly CommandOp[] = [
  "update",
  "get",
  "delete",
  "twin",
  "function",
  "sync",
  "request",
];
const DIALECTS: readonly (DialectName | undefined)[] = [
  undefined,
  "onenet",
  "aliyun",
  "aws",
  "azure",
];
const SOURCES: readonly ("device" | "cloud")[] = ["device", "cloud"];
const HAS_CORR = 1;
const HAS_PACKET_ID = 2;
const DUP = 4;
const HAS_SHADOW = 8;
const HAS_TOKEN = 16;
/** Bytes before the device key. */
export const COMMAND_HEADER_BYTES = 13;
/** The longest device key a command carries (UTF-8 bytes): its length is a u16. */
export const MAX_DEVICE_KEY_BYTES = 0xffff;
/** The longest shadow name a command carries (UTF-8 bytes): its length is a u8. */
export const MAX_SHADOW_NAME_BYTES = 0xff;
/** The longest topic token a command carries (UTF-8 bytes): its length is a u8. */
export const MAX_TOKEN_BYTES = 0xff;

/**
 * `[tag 5][op][dialect][source][flags][u32 corr][u16 packet id][u16 device length][device]
 * ([u8 shadow length][shadow] when flagged)([u8 token length][token] when flagged)[payload]`. Binary because the edge encodes and the shard decodes one per message: a
 * JSON header cost 3–4 % of each of them.
 */
export const encodeCommand = (header: CommandHeader, payload: Uint8Array): Uint8Array => {
  const deviceBytes = Buffer.byteLength(header.device, "utf8");
  if (deviceBytes > MAX_DEVICE_KEY_BYTES) throw new RangeError("device key too long");
  const shadowBytes = header.shadow === undefined ? -1 : Buffer.byteLength(header.shadow, "utf8");
  if (shadowBytes > MAX_SHADOW_NAME_BYTES) throw new RangeError("shadow name too long");
  const tokenBytes = header.token === undefined ? -1 : Buffer.byteLength(header.token, "utf8");
  if (tokenBytes > MAX_TOKEN_BYTES) throw new RangeError("token too long");
  const tokenAt = COMMAND_HEADER_BYTES + deviceBytes + (shadowBytes < 0 ? 0 : 1 + shadowBytes);
  const start = tokenAt + (tokenBytes < 0 ? 0 : 1 + tokenBytes);
  const out = Buffer.allocUnsafe(start + payload.length);
  out[0] = Tag.Command;
  out[1] = OPS.indexOf(header.op);
  out[2] = DIALECTS.indexOf(header.dialect);
  out[3] = SOURCES.indexOf(header.source);
  out[4] =
    (header.corr === undefined ? 0 : HAS_CORR) |
    (header.packetId === undefined ? 0 : HAS_PACKET_ID) |
    (header.dup === true ? DUP : 0) |
    (shadowBytes < 0 ? 0 : HAS_SHADOW) |
    (tokenBytes < 0 ? 0 : HAS_TOKEN);
  out.writeUInt32BE(header.corr ?? 0, 5);
  out.writeUInt16BE(header.packetId ?? 0, 9);
  out.writeUInt16BE(deviceBytes, 11);
  out.write(header.device, COMMAND_HEADER_BYTES, deviceBytes, "utf8");
  if (shadowBytes >= 0) {
    out[COMMAND_HEADER_BYTES + deviceBytes] = shadowBytes;
    out.write(header.shadow as string, COMMAND_HEADER_BYTES + deviceBytes + 1, shadowBytes, "utf8");
  }
  if (tokenBytes >= 0) {
    out[tokenAt] = tokenBytes;
    out.write(header.token as string, tokenAt + 1, tokenBytes, "utf8");
  }
  out.set(payload, start);
  return out;
};

export const decodeCommand = (frame: Uint8Array): Command => {
  expectTag(frame, Tag.Command, "a command");
  if (frame.length < COMMAND_HEADER_BYTES)
    throw new FrameError("command frame shorter than its header");
  const op = OPS[frame[1] as number];
  const dialectId = frame[2] as number;
  const source = SOURCES[frame[3] as number];
  if (op === undefined || dialectId >= DIALECTS.length || source === undefined)
    throw new FrameError("command header has an unknown op, dialect or source");
  const flags = frame[4] as number;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const deviceLength = view.getUint16(11);
  const deviceEnd = COMMAND_HEADER_BYTES + deviceLength;
  if (frame.length < deviceEnd) throw new FrameError("command frame cut in its device");
  let end = deviceEnd;
  let shadow: string | undefined;
  if (flags & HAS_SHADOW) {
    if (frame.length < deviceEnd + 1) throw new FrameError("command frame cut in its shadow");
    end = deviceEnd + 1 + (frame[deviceEnd] as number);
    if (frame.length < end) throw new FrameError("command frame cut in its shadow");
    shadow = decoder.decode(frame.subarray(deviceEnd + 1, end));
  }
  let token: string | undefined;
  if (flags & HAS_TOKEN) {
    const tokenAt = end;
    if (frame.length < tokenAt + 1) throw new FrameError("command frame cut in its token");
    end = tokenAt + 1 + (frame[tokenAt] as number);
    if (frame.length < end) throw new FrameError("command frame cut in its token");
    token = decoder.decode(frame.subarray(tokenAt + 1, end));
  }
  const header: CommandHeader = {
    op,
    device: decoder.decode(frame.subarray(COMMAND_HEADER_BYTES, deviceEnd)),
    dialect: DIALECTS[dialectId],
    source,
    corr: flags & HAS_CORR ? view.getUint32(5) : undefined,
    packetId: flags & HAS_PACKET_ID ? view.getUint16(9) : undefined,
    dup: flags & DUP ? true : undefined,
    shadow,
    token,
  };
  return { header, payload: frame.subarray(end) };
};

/** `[tag 6]` then per command `[u32 length][command frame]`, in order. */
export const encodeCommandBatch = (frames: readonly Uint8Array[]): Uint8Array => {
  let size = 1;
  for (const frame of frames) size += 4 + frame.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = Tag.CommandBatch;
  let at = 1;
  for (const frame of frames) {
    out.writeUInt32BE(frame.length, at);
    out.set(frame, at + 4);
    at += 4 + frame.length;
  }
  return out;
};

/** The commands of a command frame or of a batch, in order. */
export const decodeCommands = (frame: Uint8Array): Command[] => {
  switch (frame[0]) {
    case Tag.Command:
      return [decodeCommand(frame)];
    case Tag.CommandBatch:
      return decodeBatch(frame);
    default:
      throw new FrameError(`frame tagged ${frame[0]}, expected a command or a batch`);
  }
};

const decodeBatch = (frame: Uint8Array): Command[] => {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const out: Command[] = [];
  let at = 1;
  while (at < frame.length) {
    if (at + 4 > frame.length) throw new FrameError("command batch cut in a length");
    const length = view.getUint32(at);
    if (at + 4 + length > frame.length) throw new FrameError("command batch cut in a command");
    out.push(decodeCommand(frame.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return out;
};

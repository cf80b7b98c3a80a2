import { encodeJson } from "@umbra/core";
import type { ShadowEvent } from "@umbra/dialects";
import { FrameError, parseTagged, Tag, tagText } from "./tags.js";

/**
 * A shard's result events of one event-loop turn: `[tag 8]` then a JSON array, each
 * device's events together and in order. JSON because events carry documents the reply
 * service renders as JSON anyway; the tag still says what the frame is.
 */

/**
 * JSON values (already encoded) as JSON arrays of at most `maxBytes` bytes of UTF-8
 * each, in order. A value too large alone gets an array of its own (the bus drops it).
 */
export const jsonArrays = (values: readonly string[], maxBytes: number): string[] => {
  const out: string[] = [];
  let start = 0;
  let bytes = 2;
  for (let i = 0; i < values.length; i++) {
    const size = Buffer.byteLength(values[i] as string, "utf8");
    // A comma before every value but the array's first.
    if (i > start && bytes + 1 + size > maxBytes) {
      out.push(`[${values.slice(start, i).join(",")}]`);
      start = i;
      bytes = 2;
    }
    bytes += i > start ? 1 + size : size;
  }
  if (start < values.length) out.push(`[${values.slice(start).join(",")}]`);
  return out;
};

/**
 * A turn's events as frames (text: the client encodes them once) of at most `maxBytes`
 * each: one, unless the turn is larger than the server takes (3,000+ writes/s on one
 * shard); then several, in order, so each device's events stay in order.
 */
export const encodeEventFrames = (events: readonly ShadowEvent[], maxBytes: number): string[] => {
  const json = encodeJson(events);
  // At most 3 bytes per UTF-16 unit: most turns are judged by their length alone.
  if (1 + json.length * 3 <= maxBytes || 1 + Buffer.byteLength(json, "utf8") <= maxBytes)
    return [tagText(Tag.Events, json)];
  return jsonArrays(
    events.map((event) => encodeJson(event)),
    maxBytes - 1,
  ).map((part) => tagText(Tag.Events, part));
};

/** A frame's events (read as JSON, not checked one by one: the reply judges each). */
export const decodeEvents = (frame: Uint8Array): ShadowEvent[] => {
  const events = parseTagged(frame, Tag.Events, "events");
  if (!Array.isArray(events)) throw new FrameError("events frame is not a JSON array");
  return events as ShadowEvent[];
};

/** Server-Sent Events frames: the text a stream writes for each event. */
import type { Missed } from "./resume.js";

const frame = (event: string, data: string, id?: string): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;

export const missedFrame = (missed: Missed): string => frame("missed", JSON.stringify(missed));

/**
 * The SSE frames of one application-event message: a `change` event per event, only the
 * device's when `device` is given, none up to index `skipThrough`. Each carries its id
 * when the message has a stream sequence. `undefined` when the message is not an array.
 */
export const changeFrames = (
  text: string,
  seq: number | undefined,
  device: string | undefined,
  skipThrough = -1,
): string | undefined => {
  let events: unknown;
  try {
    events = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(events)) return undefined;
  let out = "";
  for (let i = skipThrough + 1; i < events.length; i++) {
    const event = events[i] as { device?: unknown } | null;
    if (typeof event !== "object" || event === null) continue;
    if (device !== undefined && event.device !== device) continue;
    out += frame("change", JSON.stringify(event), seq === undefined ? undefined : `${seq}.${i}`);
  }
  return out;
};

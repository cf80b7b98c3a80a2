/** Server-Sent Events frames: the text a stream writes for each event. */
import type { Missed } from "./resume.js";

const frame = (event: string, data: string, id?: string): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;

export const missedFrame = (missed: Missed): string => frame("missed", JSON.stringify(missed));

/** Which of a product's events a stream serves. */
export interface EventFilter {
  /** Only this device's events. */
  readonly deviceName?: string | undefined;
  /**
   * Only the events of this named shadow; `""`: only the classic shadow's (an event of
   * a named shadow carries `shadow`, the classic shadow's does not). Device messages
   * that change no shadow — Azure `telemetry`, OneNET thing `event` and `history` — are
   * left out of a stream filtered by shadow.
   */
  readonly shadow?: string | undefined;
}

/** Application events that are a device's message rather than a shadow's change. */
const NOT_SHADOW: ReadonlySet<unknown> = new Set(["telemetry", "event", "history"]);

/**
 * The SSE frames of one application-event message: a `change` event per event the
 * filter lets through, none up to index `skipThrough`. Each carries its id when the
 * message has a stream sequence. `undefined` when the message is not an array.
 */
export const changeFrames = (
  text: string,
  seq: number | undefined,
  filter: EventFilter,
  skipThrough = -1,
): string | undefined => {
  const { deviceName, shadow } = filter;
  let events: unknown;
  try {
    events = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(events)) return undefined;
  let out = "";
  for (let i = skipThrough + 1; i < events.length; i++) {
    const event = events[i] as { device?: unknown; shadow?: unknown; op?: unknown } | null;
    if (typeof event !== "object" || event === null) continue;
    if (deviceName !== undefined && event.device !== deviceName) continue;
    if (shadow !== undefined && ((event.shadow ?? "") !== shadow || NOT_SHADOW.has(event.op)))
      continue;
    out += frame("change", JSON.stringify(event), seq === undefined ? undefined : `${seq}.${i}`);
  }
  return out;
};

import type { AcceptedEvent } from "@umbra/bus";

/**
 * Application events: every accepted write — by a device or the cloud, any op — as
 * applications see it on the API's event streams. The reply service publishes one JSON
 * array per product per event-loop turn on `umbra.app.{pid}`; a JetStream stream keeps
 * them for the retention window and the API serves them as Server-Sent Events.
 */
export interface AppEvent {
  /** The device name (the product is the subject's). */
  readonly device: string;
  /** A named shadow of the device (AWS); absent: its classic shadow. */
  readonly shadow?: string;
  readonly source: "device" | "cloud";
  /** `update`, `delete` (applied `{desired: null, reported: null}`), `twin`, `function`. */
  readonly op: string;
  readonly version: number;
  /** ms */
  readonly timestamp: number;
  /** What the write applied: `desired` and/or `reported` (null: the section was deleted). */
  readonly applied: { readonly desired?: unknown; readonly reported?: unknown };
  /**
   * Present when desired ≠ reported after the write: the OneNET `update/delta` message
   * the device was sent (`state`, `metadata` timestamps, `version`, `timestamp` in s).
   */
  readonly delta?: {
    readonly state: Record<string, unknown>;
    readonly metadata: Record<string, unknown>;
    readonly version: number;
    readonly timestamp: number;
  };
}

const SOURCES: Readonly<Record<string, string>> = { device: '"device"', cloud: '"cloud"' };
const OPS: Readonly<Record<string, string>> = {
  update: '"update"',
  delete: '"delete"',
  twin: '"twin"',
  get: '"get"',
};

/**
 * One application event as JSON, from text already encoded for the device's messages:
 * `deviceJson` (the device name as a JSON string), `applied` and `delta` (see
 * `renderOneNetAccepted`). On the device round trip's path, so only concatenation here.
 */
export const encodeAppEvent = (
  deviceJson: string,
  event: AcceptedEvent,
  applied: string,
  delta: string | undefined,
): string => {
  const source = SOURCES[event.source] ?? JSON.stringify(String(event.source));
  const op = OPS[event.op] ?? JSON.stringify(String(event.op));
  const shadow = event.shadow === undefined ? "" : `,"shadow":${JSON.stringify(event.shadow)}`;
  const head = `{"device":${deviceJson}${shadow},"source":${source},"op":${op},"version":${event.version},"timestamp":${event.timestamp},"applied":${applied}`;
  return delta === undefined ? `${head}}` : `${head},"delta":${delta}}`;
};

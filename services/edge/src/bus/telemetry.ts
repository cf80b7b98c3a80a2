import { appSubject, type NatsConnection, type OnDropped, publishOrDrop } from "@umbra/bus";
import { type LimitedLog, natsConnected } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../backend.js";
import type { TelemetryCounters } from "../metrics.js";

/**
 * Device telemetry (Azure `devices/{id}/messages/events/{bag}`, DIALECTS.md §2.1): not a
 * shadow request, so it bypasses the shards and goes straight to the product's
 * application event stream (`umbra.app.{pid}`), where the reply service publishes the
 * shadows' accepted writes. Like those, a message is a JSON array of events, here one:
 *
 *   {"device":dn,"source":"device","op":"telemetry","timestamp":ms,"properties":{…},"body":…}
 *
 * `body` is the payload as JSON when it is a JSON text, else as a string when it is
 * UTF-8; a payload that is not UTF-8 comes as `bodyBase64` instead (no `body`).
 */
export class DeviceTelemetry {
  readonly #nc: NatsConnection;
  readonly #dropped: OnDropped;
  readonly #log: LimitedLog;
  readonly #now: () => number;
  readonly #counters: TelemetryCounters;

  constructor(
    nc: NatsConnection,
    dropped: OnDropped,
    log: LimitedLog,
    now: () => number,
    counters: TelemetryCounters,
  ) {
    this.#nc = nc;
    this.#dropped = dropped;
    this.#log = log;
    this.#now = now;
    this.#counters = counters;
  }

  /**
   * Publishes one telemetry message of the session's device. QoS 1 resolves true once
   * the message is handed to the connected NATS client (then PUBACK), as a device
   * topic that asks nothing does. While NATS is disconnected the message is dropped
   * and counted, like a QoS 0 command: QoS 1 then resolves false (no PUBACK, the
   * session closes) so that the device sends it again once it reconnects.
   */
  publish(session: DeviceSession, message: DevicePublish): Promise<boolean> | undefined {
    const { request, payload, qos } = message;
    if (request.kind !== "telemetry") return qos === 1 ? Promise.resolve(true) : undefined;
    const { productId, deviceName } = session.device;
    const subject = appSubject(productId);
    if (!natsConnected(this.#nc)) {
      this.#counters.dropped.value++;
      this.#dropped("disconnected", subject, payload.length, "NATS disconnected");
      return qos === 1 ? Promise.resolve(false) : undefined;
    }
    const event = encodeTelemetryEvent(deviceName, this.#now(), request.properties, payload);
    if (publishOrDrop(this.#nc, subject, event, undefined, this.#dropped)) {
      this.#counters.published.value++;
      return qos === 1 ? Promise.resolve(true) : undefined;
    }
    this.#counters.dropped.value++;
    this.#log.warn(
      { device: session.deviceKey, bytes: payload.length },
      "telemetry not published on the application event stream",
    );
    // Past the server's max_payload it never fits: acknowledged, else the device would
    // send it again for ever. A closed connection is the edge stopping: no PUBACK.
    return qos === 1 ? Promise.resolve(natsConnected(this.#nc)) : undefined;
  }
}

// A byte order mark is dropped, as JSON.parse would refuse it.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The application-event message (a JSON array of one event) for one telemetry publish.
 * A payload that is a JSON text is embedded as it came (it was just parsed, so it is
 * valid where it stands); anything else is a JSON string, or base64 when not UTF-8.
 */
export const encodeTelemetryEvent = (
  deviceName: string,
  timestamp: number,
  properties: { readonly [key: string]: string },
  payload: Uint8Array,
): string => {
  const head = `[{"device":${JSON.stringify(deviceName)},"source":"device","op":"telemetry","timestamp":${timestamp},"properties":${JSON.stringify(properties)}`;
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return `${head},"bodyBase64":${JSON.stringify(Buffer.from(payload).toString("base64"))}}]`;
  }
  return `${head},"body":${isJsonText(text) ? text : JSON.stringify(text)}}]`;
};

const isJsonText = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

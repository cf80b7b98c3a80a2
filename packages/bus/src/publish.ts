import type { NatsConnection } from "@nats-io/transport-node";

/** NATS's default `max_payload`, assumed until the server's INFO says otherwise. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * The largest payload the server takes, as it announced it (`max_payload` in INFO; it
 * may change when the client reconnects to another server). A larger publish throws.
 */
export const maxPayloadOf = (nc: NatsConnection): number =>
  nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;

/** Why the bus did not send a message. */
export type DropReason =
  /** Larger than the server's `max_payload` even alone. */
  | "oversize"
  /** The client refused it: connection closed or draining, a bad subject. */
  | "failed"
  /**
   * Not handed to the client while it reconnects: it would buffer without bound (an
   * at-most-once message from a device flooding during an outage).
   */
  | "disconnected";

/** Told of every message the bus did not send (counted and logged by the owner). */
export type OnDropped = (
  reason: DropReason,
  subject: string,
  bytes: number,
  error: unknown,
) => void;

const sizeOf = (payload: Uint8Array | string): number =>
  typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.length;

/**
 * `nc.publish` that never throws: a payload over `max_payload` or a closed connection
 * makes the client throw synchronously, which inside a timer or a subscription callback
 * would end the process. The message is dropped and `onDropped` told instead. (The size
 * is measured only on failure: the client checks it anyway.)
 */
export const publishOrDrop = (
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array | string,
  reply: string | undefined,
  onDropped: OnDropped,
): boolean => {
  try {
    if (reply === undefined) nc.publish(subject, payload);
    else nc.publish(subject, payload, { reply });
    return true;
  } catch (error) {
    const bytes = sizeOf(payload);
    onDropped(bytes > maxPayloadOf(nc) ? "oversize" : "failed", subject, bytes, error);
    return false;
  }
};

/** Drops silently: for owners with nothing to count (tests, the CLI). */
export const IGNORE_DROPPED: OnDropped = () => undefined;

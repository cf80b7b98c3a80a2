/**
 * Fakes for the edge backend's unit tests: a NATS connection and a command outbox that
 * record what goes out, a session that records what it is given, and a wait for a
 * number of those records (with a deadline, never a sleep).
 */
import type { CommandOutbox, NatsConnection } from "@umbra/bus";
import type { DeviceId } from "@umbra/dialects";
import { deviceKey } from "@umbra/dialects";
import type { DeviceSession } from "../src/backend.js";
import { withDeadline } from "./helpers.js";

/** A message published on NATS or through the outbox. */
export interface Sent {
  readonly subject: string;
  readonly data: Uint8Array | string;
  readonly reply: string | undefined;
}

/**
 * Records of one kind and a wait for them: `push` records one, `reached(count)` settles
 * once at least `count` are in (rejecting past the helpers' deadline).
 */
export const records = <T>(what: string) => {
  const list: T[] = [];
  let check: () => void = () => {};
  const push = (item: T) => {
    list.push(item);
    check();
  };
  const reached = (count: number) =>
    withDeadline(
      new Promise<void>((resolve) => {
        check = () => {
          if (list.length >= count) resolve();
        };
        check();
      }),
      `${count} ${what}`,
    );
  return { list, push, reached };
};

/** A NATS connection that records what is published; `connected` false: closed. */
export const recordingNats = (options: { connected?: boolean; maxPayload?: number } = {}) => {
  const published: Sent[] = [];
  const maxPayload = options.maxPayload ?? 1024 * 1024;
  const nc = {
    isClosed: () => options.connected === false,
    publish: (subject: string, data: Uint8Array | string, opts?: { reply?: string }) => {
      const bytes = typeof data === "string" ? Buffer.byteLength(data) : data.length;
      // As the client does: over the server's max_payload it throws.
      if (bytes > maxPayload) throw new Error("MAX_PAYLOAD_EXCEEDED");
      published.push({ subject, data, reply: opts?.reply });
    },
    subscribe: () => ({ unsubscribe: () => {} }),
    flush: async () => {},
    info: { max_payload: maxPayload },
  } as unknown as NatsConnection;
  return { nc, published };
};

/** A command outbox that records each command; `sent(count)` waits for that many. */
export const recordingOutbox = () => {
  const sent = records<Sent>("commands sent");
  const fakeOutbox = {
    publish: (subject: string, data: Uint8Array, reply?: string) =>
      sent.push({ subject, data, reply }),
  } as unknown as CommandOutbox;
  return { outbox: sent.list, fakeOutbox, sent: sent.reached };
};

/**
 * `device`'s session "s1", recording what it is delivered as `read` makes of the
 * payload; `delivered(count)` waits for that many.
 */
export const recordingSession = <B>(
  device: DeviceId,
  read: (payload: Uint8Array) => B,
  what = "deliveries",
) => {
  const deliveries = records<{ topic: string; body: B }>(what);
  const session: DeviceSession = {
    id: "s1",
    device,
    deviceKey: deviceKey(device),
    deliver: (topic, payload) => {
      deliveries.push({ topic, body: read(payload) });
      return true;
    },
    close: () => {},
  };
  return { session, deliveries: deliveries.list, delivered: deliveries.reached };
};

/** A delivered payload read as JSON. */
export const jsonBody = (payload: Uint8Array): Record<string, unknown> =>
  JSON.parse(Buffer.from(payload).toString("utf8"));

import { type NatsConnection, RequestError, type Subscription } from "@nats-io/transport-node";
import {
  buildGatewayRequest,
  describeError,
  GATEWAY_CALL_TIMEOUT_MS,
  type GatewayRequest,
  type Limits,
  type OneJsonReply,
  parseGatewayReply,
  type ShadowError,
} from "@umbra/core";
import { type DeviceId, type GatewayCall, gatewayCallTopic } from "@umbra/dialects";
import { encodeDeliverText, FrameError } from "./frames.js";
import { deviceSubject, gatewayReplySubject } from "./subjects.js";

/**
 * Gateway calls (seed 003) over the bus. The caller publishes the call to the gateway's
 * device subject as a NATS request; the edge holding the gateway's session delivers it
 * and answers whether it could. The gateway's `…_reply` comes back through that edge on
 * `umbra.gw.{pid}.{dn}`, where every process with a call waiting on the gateway listens
 * and keeps only the replies whose `id` it sent.
 */

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

/** `[call code][payload]`: what the edge forwards from a gateway's reply topic. */
export const encodeGatewayReply = (call: GatewayCall, payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(1 + payload.length);
  out[0] = CALL_CODES[call];
  out.set(payload, 1);
  return out;
};

export const decodeGatewayReply = (
  frame: Uint8Array,
): { readonly call: GatewayCall; readonly payload: Uint8Array } => {
  const call = CALLS_BY_CODE[frame[0] ?? 0];
  if (call === undefined) throw new FrameError("not a gateway reply frame");
  return { call, payload: frame.subarray(1) };
};

const DELIVERED = Uint8Array.of(1);
const NOT_DELIVERED = Uint8Array.of(0);

/** The edge's answer to a call sent as a request: did the session take it. */
export const encodeDelivered = (delivered: boolean): Uint8Array =>
  delivered ? DELIVERED : NOT_DELIVERED;

export type GatewayOutcome =
  /** The call breaks the seed's rules (more than 50 properties, a bad identifier…): not sent. */
  | { readonly kind: "invalid"; readonly error: ShadowError }
  | { readonly kind: "answered"; readonly id: string; readonly reply: OneJsonReply }
  /** No edge holds a session of the gateway. */
  | { readonly kind: "offline" }
  /** Its session is there but has not subscribed to the call's topic (or reads too slowly). */
  | { readonly kind: "not-delivered"; readonly topic: string }
  | { readonly kind: "timeout"; readonly id: string; readonly waitedMs: number }
  /** The gateway answered with a reply that could not be read. */
  | { readonly kind: "bad-reply"; readonly id: string; readonly problem: string };

interface Waiting {
  readonly call: GatewayCall;
  readonly subject: string;
  readonly done: (outcome: GatewayOutcome) => void;
}

interface Listening {
  readonly sub: Subscription;
  calls: number;
}

/** The message id space: 13 digits (seed 003's limit), starting at random per process. */
const ID_SPACE = 9_000_000_000_000;
const ID_BASE = 1_000_000_000_000;

export class GatewayClient {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #limits: Limits | undefined;
  readonly #waiting = new Map<string, Waiting>();
  readonly #listening = new Map<string, Listening>();
  readonly #onUnreadable: (subject: string, why: string) => void;
  #next = Math.floor(Math.random() * ID_SPACE);

  constructor(
    nc: NatsConnection,
    options: {
      readonly timeoutMs?: number;
      /** The engine's limits (50 properties per call); its defaults when absent. */
      readonly limits?: Limits;
      /** A frame or reply nobody can match (logged by the owner, not here). */
      readonly onUnreadable?: (subject: string, why: string) => void;
    } = {},
  ) {
    this.#nc = nc;
    this.#timeoutMs = options.timeoutMs ?? GATEWAY_CALL_TIMEOUT_MS;
    this.#limits = options.limits;
    this.#onUnreadable = options.onUnreadable ?? (() => undefined);
  }

  /** Ids are unique per process; across processes a collision needs the same 1 in 9·10¹². */
  #newId(): string {
    this.#next = (this.#next + 1) % ID_SPACE;
    return String(ID_BASE + this.#next);
  }

  /**
   * Sends a call to `gateway` for its sub-device `sub` and waits (at most the timeout, 5 s
   * by default) for the gateway's reply with the same id.
   */
  async call(
    gateway: DeviceId,
    sub: DeviceId,
    request: GatewayRequest,
    version?: string,
  ): Promise<GatewayOutcome> {
    const id = this.#newId();
    const envelope = buildGatewayRequest(
      id,
      { productID: sub.productId, deviceName: sub.deviceName },
      request,
      {
        ...(version === undefined ? {} : { version }),
        ...(this.#limits === undefined ? {} : { limits: this.#limits }),
      },
    );
    if (!envelope.ok) return { kind: "invalid", error: envelope.error };
    const started = Date.now();
    const subject = this.#listen(gateway);
    let settle!: (outcome: GatewayOutcome) => void;
    const outcome = new Promise<GatewayOutcome>((resolve) => {
      settle = resolve;
    });
    const timer = setTimeout(
      () => finish({ kind: "timeout", id, waitedMs: Date.now() - started }),
      this.#timeoutMs,
    );
    const finish = (result: GatewayOutcome): void => {
      if (this.#waiting.get(id)?.done !== finish) return;
      clearTimeout(timer);
      this.#waiting.delete(id);
      this.#unlisten(subject);
      settle(result);
    };
    this.#waiting.set(id, { call: request.kind, subject, done: finish });
    const topic = gatewayCallTopic(gateway, request.kind);
    const frame = encodeDeliverText([{ topic, body: JSON.stringify(envelope.value) }]);
    // Subscribed before the request leaves: this connection's SUB reaches the server first.
    this.#nc
      .request(deviceSubject(gateway.productId, gateway.deviceName), frame, {
        timeout: this.#timeoutMs,
      })
      .then(
        (answer) => {
          if (answer.data[0] !== 1) finish({ kind: "not-delivered", topic });
        },
        (error: unknown) => {
          // No edge holds the gateway: NATS answers "no responders" at once. An edge that
          // did not answer in time is the same silence as a gateway that did not.
          if (isNoResponders(error)) finish({ kind: "offline" });
        },
      );
    return outcome;
  }

  /** Calls still waiting for their gateway. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Stops listening; calls still waiting end as timeouts. */
  close(): void {
    for (const [id, waiting] of [...this.#waiting])
      waiting.done({ kind: "timeout", id, waitedMs: 0 });
    for (const { sub } of this.#listening.values()) sub.unsubscribe();
    this.#listening.clear();
  }

  #listen(gateway: DeviceId): string {
    const subject = gatewayReplySubject(gateway.productId, gateway.deviceName);
    const listening = this.#listening.get(subject);
    if (listening !== undefined) {
      listening.calls++;
      return subject;
    }
    const sub = this.#nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error === null) this.#replied(subject, msg.data);
      },
    });
    this.#listening.set(subject, { sub, calls: 1 });
    return subject;
  }

  #unlisten(subject: string): void {
    const listening = this.#listening.get(subject);
    if (listening === undefined || --listening.calls > 0) return;
    listening.sub.unsubscribe();
    this.#listening.delete(subject);
  }

  #replied(subject: string, frame: Uint8Array): void {
    let call: GatewayCall;
    let payload: Uint8Array;
    try {
      ({ call, payload } = decodeGatewayReply(frame));
    } catch (e) {
      this.#onUnreadable(subject, (e as Error).message);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString());
    } catch {
      this.#onUnreadable(subject, "the reply is not JSON");
      return;
    }
    // The id, even of a reply that is otherwise wrong: its call learns the gateway
    // answered nonsense instead of waiting for the timeout.
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== "string") {
      this.#onUnreadable(subject, "the reply has no id");
      return;
    }
    // Another process's call, or one already ended: not ours to judge.
    const waiting = this.#waiting.get(id);
    if (waiting === undefined || waiting.subject !== subject || waiting.call !== call) return;
    const read = parseGatewayReply(body);
    waiting.done(
      read.ok
        ? { kind: "answered", id, reply: read.value }
        : { kind: "bad-reply", id, problem: describeError(read.error) },
    );
  }
}

const isNoResponders = (error: unknown): boolean =>
  error instanceof RequestError && error.isNoResponders();

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
import {
  buildThingCall,
  type DeviceId,
  gatewayCallTopic,
  isDirectCall,
  type RepliedCall,
  readThingCallReply,
  sameRepliedCall,
} from "@umbra/dialects";
import { ClusterUnavailableError } from "./client.js";
import { type Correlated, Correlator, DEFAULT_MAX_PENDING } from "./correlator.js";
import { decodeDelivered, decodeGatewayReply, encodeDeliverText } from "./frames/index.js";
import { deviceSubject, gatewayReplySubject } from "./subjects.js";

/**
 * Gateway calls (seed 003) and calls to a device itself (thing model) over the bus. The
 * caller publishes the call to the device subject of the gateway (or device) as a NATS
 * request; the edge holding its session delivers it and answers whether it could. The
 * `…_reply` comes back through that edge on `umbra.gw.{pid}.{dn}`, where every process
 * with a call waiting on that device listens and keeps only the replies whose `id` it
 * sent, for the call (kind, sub-device or direct, service) it made under that id.
 */

export type GatewayOutcome =
  /** The call breaks the seed's rules (more than 50 properties, a bad identifier…): not sent. */
  | { readonly kind: "invalid"; readonly error: ShadowError }
  | { readonly kind: "answered"; readonly id: string; readonly reply: OneJsonReply }
  /** No edge holds a session of the gateway (or device). */
  | { readonly kind: "offline" }
  /** Its session is there but has not subscribed to the call's topic (or reads too slowly). */
  | { readonly kind: "not-delivered"; readonly topic: string }
  | { readonly kind: "timeout"; readonly id: string; readonly waitedMs: number }
  /** The gateway (or device) answered with a reply that could not be read. */
  | { readonly kind: "bad-reply"; readonly id: string; readonly problem: string };

interface Waiting extends Correlated {
  sentAt: number;
  resendAt: number;
  readonly call: RepliedCall;
  readonly subject: string;
  readonly resolve: (outcome: GatewayOutcome) => void;
}

interface Listening {
  readonly sub: Subscription;
  calls: number;
}

/** Message ids: 13 digits (seed 003's limit), counting from a random start per process. */
const ID_SPACE = 9_000_000_000_000;
const ID_BASE = 1_000_000_000_000;

export class GatewayClient {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #limits: Limits | undefined;
  /** Ids are unique per process; across processes a collision needs the same 1 in 9·10¹². */
  readonly #waiting: Correlator<Waiting>;
  readonly #listening = new Map<string, Listening>();
  readonly #onUnreadable: (subject: string, why: string) => void;

  constructor(
    nc: NatsConnection,
    options: {
      readonly timeoutMs?: number;
      /** The engine's limits (50 properties per call); its defaults when absent. */
      readonly limits?: Limits;
      /** A frame or reply nobody can match (logged by the owner, not here). */
      readonly onUnreadable?: (subject: string, why: string) => void;
      /** Calls waiting at most: one more fails at once (a `ClusterUnavailableError`, 503). */
      readonly maxWaiting?: number;
    } = {},
  ) {
    this.#nc = nc;
    this.#timeoutMs = options.timeoutMs ?? GATEWAY_CALL_TIMEOUT_MS;
    this.#limits = options.limits;
    this.#onUnreadable = options.onUnreadable ?? (() => undefined);
    this.#waiting = new Correlator<Waiting>({
      deadlineMs: this.#timeoutMs,
      maxPending: options.maxWaiting ?? DEFAULT_MAX_PENDING,
      sweepMs: Math.max(10, Math.min(50, this.#timeoutMs / 4)),
      idSpace: ID_SPACE,
      idBase: ID_BASE,
      // A gateway call is never repeated: the gateway may have acted on it.
      resend: () => undefined,
      expired: (n, waiting, waitedMs) => {
        this.#unlisten(waiting.subject);
        waiting.resolve({ kind: "timeout", id: String(n), waitedMs });
      },
    });
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
    const n = this.#waiting.nextId();
    const id = String(n);
    const envelope = buildGatewayRequest(
      id,
      { productID: sub.productId, deviceName: sub.deviceName },
      request,
      this.#options(version),
    );
    if (!envelope.ok) return { kind: "invalid", error: envelope.error };
    return this.#send(n, gateway, request.kind, {
      topic: gatewayCallTopic(gateway, request.kind),
      body: JSON.stringify(envelope.value),
    });
  }

  /**
   * Sends a call to `device` itself on its thing-model topics (`thing/property/set|get`,
   * `thing/service/{identifier}/invoke`) and waits, as a gateway call does, for its
   * `…_reply` with the same id. The same rules as a gateway call, and an identifier
   * that can stand in a topic.
   */
  async callDevice(
    device: DeviceId,
    request: GatewayRequest,
    version?: string,
  ): Promise<GatewayOutcome> {
    const n = this.#waiting.nextId();
    const message = buildThingCall(device, String(n), request, this.#options(version));
    if (!message.ok) return { kind: "invalid", error: message.error };
    const direct =
      request.kind === "service/invoke"
        ? { kind: request.kind, identifier: request.identifier }
        : { kind: request.kind };
    return this.#send(n, device, { direct }, message.value);
  }

  #options(version: string | undefined): { version?: string; limits?: Limits } {
    return {
      ...(version === undefined ? {} : { version }),
      ...(this.#limits === undefined ? {} : { limits: this.#limits }),
    };
  }

  /** Publishes call `n` to `target`'s session and waits for its reply to `call`. */
  #send(
    n: number,
    target: DeviceId,
    call: RepliedCall,
    message: { readonly topic: string; readonly body: string },
  ): Promise<GatewayOutcome> {
    const subject = gatewayReplySubject(target.productId, target.deviceName);
    let resolve!: (outcome: GatewayOutcome) => void;
    const outcome = new Promise<GatewayOutcome>((settle) => {
      resolve = settle;
    });
    if (!this.#waiting.add(n, { sentAt: 0, resendAt: 0, call, subject, resolve }))
      throw new ClusterUnavailableError(`too many gateway calls waiting (${this.#waiting.size})`);
    this.#listen(subject);
    const { topic } = message;
    const frame = encodeDeliverText([message]);
    // Subscribed before the request leaves: this connection's SUB reaches the server first.
    this.#nc
      .request(deviceSubject(target.productId, target.deviceName), frame, {
        timeout: this.#timeoutMs,
      })
      .then(
        (answer) => {
          let delivered: boolean;
          try {
            delivered = decodeDelivered(answer.data);
          } catch (e) {
            this.#onUnreadable(answer.subject, (e as Error).message);
            delivered = false;
          }
          if (!delivered) this.#finish(n, { kind: "not-delivered", topic });
        },
        (error: unknown) => {
          // No edge holds the session: NATS answers "no responders" at once. An edge that
          // did not answer in time is the same silence as a device that did not.
          if (isNoResponders(error)) this.#finish(n, { kind: "offline" });
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
    this.#waiting.giveUpAll((n, waiting) =>
      waiting.resolve({ kind: "timeout", id: String(n), waitedMs: 0 }),
    );
    for (const { sub } of this.#listening.values()) sub.unsubscribe();
    this.#listening.clear();
  }

  /** Ends call `n` with `outcome`, unless it ended already. */
  #finish(n: number, outcome: GatewayOutcome): void {
    const waiting = this.#waiting.settle(n);
    if (waiting === undefined) return;
    this.#unlisten(waiting.subject);
    waiting.resolve(outcome);
  }

  #listen(subject: string): void {
    const listening = this.#listening.get(subject);
    if (listening !== undefined) {
      listening.calls++;
      return;
    }
    const sub = this.#nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error === null) this.#replied(subject, msg.data);
      },
    });
    this.#listening.set(subject, { sub, calls: 1 });
  }

  #unlisten(subject: string): void {
    const listening = this.#listening.get(subject);
    if (listening === undefined || --listening.calls > 0) return;
    listening.sub.unsubscribe();
    this.#listening.delete(subject);
  }

  #replied(subject: string, frame: Uint8Array): void {
    let call: RepliedCall;
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
    // The id, even of a reply that is otherwise wrong: its call learns the device
    // answered nonsense instead of waiting for the timeout.
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== "string") {
      this.#onUnreadable(subject, "the reply has no id");
      return;
    }
    // Another process's call (or not one of our ids at all), one already ended, or a
    // reply on another call's topic: not ours to judge.
    const n = Number(id);
    if (String(n) !== id) return;
    const waiting = this.#waiting.get(n);
    if (
      waiting === undefined ||
      waiting.subject !== subject ||
      !sameRepliedCall(waiting.call, call)
    )
      return;
    // A device's reply is read within the engine's bounds, as anything a device sends.
    const read = isDirectCall(call)
      ? readThingCallReply(payload, this.#limits)
      : parseGatewayReply(body);
    this.#finish(
      n,
      read.ok
        ? { kind: "answered", id, reply: read.value }
        : { kind: "bad-reply", id, problem: describeError(read.error) },
    );
  }
}

const isNoResponders = (error: unknown): boolean =>
  error instanceof RequestError && error.isNoResponders();

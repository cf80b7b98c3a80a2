/**
 * Live change streams: Server-Sent Events of a product's (or one device's) accepted
 * changes. The reply service publishes them as application events, one JSON array per
 * product per turn on `umbra.app.{pid}`; a JetStream stream (`UMBRA_APP`) keeps them for
 * the retention window, so a client that reconnects with `Last-Event-ID` gets exactly
 * the events after it. On a NATS server without JetStream the streams are live only.
 *
 * An event id is `{stream sequence}.{index in that message}`: the message a client saw
 * last is read again and its events up to that index skipped.
 */
import type { ServerResponse } from "node:http";
import {
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { ALL_APP, appSubject, type NatsConnection } from "@umbra/bus";
import { type Logger, limitedLog } from "@umbra/runtime";
import type { Metrics } from "./metrics.js";
import { fail } from "./problems.js";

/** The JetStream stream that keeps application events. */
export const EVENT_STREAM = "UMBRA_APP";

/** Where a client is in the stream: the `index`-th event of the message at `seq`. */
export interface EventId {
  readonly seq: number;
  readonly index: number;
}

export const formatEventId = (id: EventId): string => `${id.seq}.${id.index}`;

/** `12.3` → `{seq: 12, index: 3}`; anything else (`undefined`) is not an id this API sent. */
export const parseEventId = (text: string): EventId | undefined => {
  const match = /^\s*(\d{1,15})\.(\d{1,6})\s*$/.exec(text);
  if (match === null) return undefined;
  const seq = Number(match[1]);
  return seq >= 1 ? { seq, index: Number(match[2]) } : undefined;
};

export type MissedReason = "expired" | "reset" | "no-history";

export interface Missed {
  readonly reason: MissedReason;
  readonly detail: string;
}

/** Where a stream starts reading, and what the client is told first. */
export interface StartPlan {
  /** The first stream sequence to read. */
  readonly seq: number;
  /** Events of the message at `after.seq` up to `after.index` were sent already. */
  readonly after: EventId | undefined;
  readonly missed: Missed | undefined;
}

/**
 * Where to start for a client that saw `after` last (`undefined`: a new client, which
 * gets the events from now on), given the stream's first and last sequence.
 */
export const planStart = (
  state: { readonly firstSeq: number; readonly lastSeq: number },
  after: EventId | undefined,
): StartPlan => {
  const oldest = Math.max(state.firstSeq, 1);
  if (after === undefined) return { seq: state.lastSeq + 1, after: undefined, missed: undefined };
  const id = formatEventId(after);
  if (after.seq > state.lastSeq)
    return {
      seq: oldest,
      after: undefined,
      missed: {
        reason: "reset",
        detail: `event ${id} is newer than any kept: the event history was reset; the stream starts at the oldest event kept`,
      },
    };
  if (after.seq < oldest)
    return {
      seq: oldest,
      after: undefined,
      missed: {
        reason: "expired",
        detail: `events after ${id} are no longer all kept (retention window); the stream starts at the oldest event kept`,
      },
    };
  return { seq: after.seq, after, missed: undefined };
};

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

export interface EventStoreOptions {
  /** `max_age` of the stream. */
  readonly retentionSeconds: number;
  /** `max_bytes` of the stream (oldest events go first); -1: no limit. */
  readonly maxBytes: number;
  readonly storage: "file" | "memory";
}

/** JetStream, once the event stream exists. */
export interface EventStore {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const isStreamNotFound = (e: unknown): boolean =>
  e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;

/**
 * Creates the event stream, or updates its retention, when the NATS server has
 * JetStream; `undefined` (streams live only, logged) when it has not or refuses. Limits
 * are the only members an update sets, so replicas or placement an operator chose stay.
 */
export const openEventStore = async (
  nc: NatsConnection,
  options: EventStoreOptions,
  logger: Logger,
): Promise<EventStore | undefined> => {
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5_000 });
  } catch (e) {
    logger.warn(
      { err: reason(e) },
      "NATS has no JetStream: event streams are live only (no Last-Event-ID resume)",
    );
    return undefined;
  }
  const limits = {
    max_age: options.retentionSeconds * 1_000_000_000,
    max_bytes: options.maxBytes,
  };
  try {
    try {
      const info = await jsm.streams.info(EVENT_STREAM);
      if (info.config.max_age !== limits.max_age || info.config.max_bytes !== limits.max_bytes)
        await jsm.streams.update(EVENT_STREAM, limits);
    } catch (e) {
      if (!isStreamNotFound(e)) throw e;
      try {
        await jsm.streams.add({
          name: EVENT_STREAM,
          subjects: [ALL_APP],
          storage: options.storage === "memory" ? StorageType.Memory : StorageType.File,
          discard: DiscardPolicy.Old,
          ...limits,
        });
      } catch (added) {
        // Another API instance created it meanwhile: make the limits ours.
        await jsm.streams.update(EVENT_STREAM, limits).catch(() => {
          throw added;
        });
      }
    }
  } catch (e) {
    logger.warn(
      { err: reason(e), stream: EVENT_STREAM },
      "cannot create the JetStream event stream: event streams are live only (no Last-Event-ID resume)",
    );
    return undefined;
  }
  logger.debug({ stream: EVENT_STREAM, ...options }, "event stream ready");
  return { js: jetstream(nc, { timeout: 5_000 }), jsm };
};

export interface EventStreamsOptions {
  readonly nc: NatsConnection;
  readonly store: EventStore | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  readonly heartbeatMs?: number;
}

/** What a stream serves: a product's events, or one device's of them. */
export interface StreamRequest {
  readonly productId: string;
  readonly deviceName?: string | undefined;
  /** The last event the client saw (Last-Event-ID). */
  readonly after?: EventId | undefined;
}

/** Bytes a live-only stream may have waiting for a slow client before it is closed. */
const MAX_BUFFERED = 4 * 1024 * 1024;
const decoder = new TextDecoder();

/**
 * Serves event streams and keeps track of the open ones, so that shutting down can end
 * them (an open response would hold the HTTP server's close forever).
 */
export class EventStreams {
  readonly #nc: NatsConnection;
  readonly #store: EventStore | undefined;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #heartbeatMs: number;
  readonly #open = new Set<() => void>();

  constructor(options: EventStreamsOptions) {
    this.#nc = options.nc;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  /** Whether streams can resume (JetStream keeps the events). */
  get resumable(): boolean {
    return this.#store !== undefined;
  }

  /**
   * Gets a stream ready before the answer's headers go out: once they have, every event
   * published from then on reaches the client. Returns what writes the stream.
   */
  async prepare(request: StreamRequest): Promise<(res: ServerResponse) => void> {
    const store = this.#store;
    if (store === undefined) {
      const missed: Missed | undefined =
        request.after === undefined
          ? undefined
          : {
              reason: "no-history",
              detail:
                "this cluster keeps no event history (NATS without JetStream): only new events follow",
            };
      return this.#live(request, missed);
    }
    let plan: StartPlan;
    let messages: ConsumerMessages;
    let remove: () => Promise<unknown>;
    try {
      const info = await store.jsm.streams.info(EVENT_STREAM);
      plan = planStart(
        { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq },
        request.after,
      );
      const consumer = await store.js.consumers.get(EVENT_STREAM, {
        filter_subjects: appSubject(request.productId),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: plan.seq,
        inactive_threshold: 60_000,
      });
      messages = await consumer.consume({ max_messages: 64 });
      remove = () => consumer.delete();
    } catch (e) {
      if (isStreamNotFound(e))
        return fail("cluster-unavailable", `the JetStream stream ${EVENT_STREAM} is gone`);
      return fail("cluster-unavailable", `cannot read the event stream: ${reason(e)}`);
    }
    return (res) => this.#replay(res, request, plan, messages, remove);
  }

  /** Ends every open stream (the API is stopping); clients reconnect elsewhere. */
  closeAll(): void {
    for (const close of [...this.#open]) close();
  }

  /** Headers are out: the opening comment, the heartbeat, the bookkeeping. */
  #begin(res: ServerResponse, stop: () => void, missed: Missed | undefined): () => void {
    let closed = false;
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), this.#heartbeatMs);
    heartbeat.unref();
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      this.#open.delete(close);
      this.#metrics.streamClosed();
      stop();
      if (!res.writableEnded) res.end();
    };
    this.#open.add(close);
    this.#metrics.streamOpened();
    res.on("close", close);
    // The client may have gone while the stream was being prepared.
    if (res.socket === null || res.socket.destroyed) {
      close();
      return close;
    }
    res.write(`: ${this.resumable ? "resumable" : "live only"}\n\n`);
    if (missed !== undefined) res.write(missedFrame(missed));
    return close;
  }

  /** JetStream: from the planned sequence, with back-pressure from the client's socket. */
  #replay(
    res: ServerResponse,
    request: StreamRequest,
    plan: StartPlan,
    messages: ConsumerMessages,
    remove: () => Promise<unknown>,
  ): void {
    const close = this.#begin(
      res,
      () => {
        messages.stop();
        remove().catch(() => undefined);
      },
      plan.missed,
    );
    const pump = async (): Promise<void> => {
      let first = true;
      for await (const m of messages as AsyncIterable<JsMsg>) {
        let text = "";
        const after = plan.after;
        if (first) {
          first = false;
          // The message the client saw last is gone (or was never this product's).
          if (after !== undefined && m.seq !== after.seq)
            text += missedFrame({
              reason: "expired",
              detail: `events after ${formatEventId(after)} are no longer all kept (retention window); the stream goes on from the oldest event kept`,
            });
        }
        const frames = changeFrames(
          m.string(),
          m.seq,
          request.deviceName,
          after !== undefined && m.seq === after.seq ? after.index : -1,
        );
        if (frames === undefined)
          limitedLog(this.#logger).warn(
            { seq: m.seq, subject: m.subject },
            "unreadable application event",
          );
        else text += frames;
        if (text === "" || res.writableEnded) continue;
        if (!res.write(text))
          await new Promise<void>((resume) => {
            const done = () => {
              res.off("drain", done);
              res.off("close", done);
              resume();
            };
            res.on("drain", done);
            res.on("close", done);
          });
      }
    };
    pump().then(close, (e: unknown) => {
      this.#logger.warn({ err: reason(e), product: request.productId }, "event stream ended");
      close();
    });
  }

  /** Core NATS: new events only; a client too slow to keep up is disconnected. */
  /**
   * Core NATS: new events only, subscribed (and the subscription flushed to the server)
   * before the headers go out; a client too slow to keep up is disconnected.
   */
  async #live(
    request: StreamRequest,
    missed: Missed | undefined,
  ): Promise<(res: ServerResponse) => void> {
    let out: ServerResponse | undefined;
    let early = "";
    let close = (): void => undefined;
    const subscription = this.#nc.subscribe(appSubject(request.productId), {
      callback: (error, msg) => {
        if (error !== null) {
          close();
          return;
        }
        const frames = changeFrames(decoder.decode(msg.data), undefined, request.deviceName);
        if (frames === undefined || frames === "") return;
        if (out === undefined) {
          early += frames;
          return;
        }
        if (out.writableEnded) return;
        out.write(frames);
        if (out.writableLength > MAX_BUFFERED) {
          this.#logger.info({ product: request.productId }, "event stream client too slow: closed");
          close();
        }
      },
    });
    try {
      await this.#nc.flush();
    } catch (e) {
      subscription.unsubscribe();
      return fail("cluster-unavailable", `cannot subscribe to the events: ${reason(e)}`);
    }
    return (res) => {
      close = this.#begin(res, () => subscription.unsubscribe(), missed);
      out = res;
      if (early !== "" && !res.writableEnded) res.write(early);
      early = "";
    };
  }
}

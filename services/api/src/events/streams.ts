/**
 * Live change streams: Server-Sent Events of a product's (or one device's) accepted
 * changes. The reply service publishes them as application events, one JSON array per
 * product per turn on `umbra.app.{pid}`. With JetStream a stream replays from where the
 * client left off and then follows; without it, it follows core NATS from now on.
 */
import type { ServerResponse } from "node:http";
import { type ConsumerMessages, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { appSubject, type NatsConnection } from "@umbra/bus";
import { type Logger, limitedLog } from "@umbra/runtime";
import type { Metrics } from "../metrics.js";
import { fail, messageOf } from "../problems.js";
import { type EventId, formatEventId, type Missed, planStart, type StartPlan } from "./resume.js";
import { changeFrames, type EventFilter, missedFrame } from "./sse.js";
import { EVENT_STREAM, type EventStore, isStreamNotFound } from "./store.js";

export interface EventStreamsOptions {
  readonly nc: NatsConnection;
  readonly store: EventStore | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  readonly heartbeatMs?: number;
}

/** What a stream serves: a product's events, or those of them the filter lets through. */
export interface StreamRequest extends EventFilter {
  readonly productId: string;
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
      return fail("cluster-unavailable", `cannot read the event stream: ${messageOf(e)}`);
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
          request,
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
      this.#logger.warn({ err: messageOf(e), product: request.productId }, "event stream ended");
      close();
    });
  }

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
        const frames = changeFrames(decoder.decode(msg.data), undefined, request);
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
      return fail("cluster-unavailable", `cannot subscribe to the events: ${messageOf(e)}`);
    }
    return (res) => {
      close = this.#begin(res, () => subscription.unsubscribe(), missed);
      out = res;
      if (early !== "" && !res.writableEnded) res.write(early);
      early = "";
    };
  }
}

/**
 * The JetStream stream (`UMBRA_APP`) that keeps application events for the retention
 * window, so a client that reconnects with `Last-Event-ID` gets exactly the events after
 * it. On a NATS server without JetStream there is none and streams are live only.
 */
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { ALL_APP, type NatsConnection } from "@umbra/bus";
import type { Logger } from "@umbra/runtime";
import { messageOf } from "../problems.js";

/** The JetStream stream that keeps application events. */
export const EVENT_STREAM = "UMBRA_APP";

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

export const isStreamNotFound = (e: unknown): boolean =>
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
      { err: messageOf(e) },
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
      { err: messageOf(e), stream: EVENT_STREAM },
      "cannot create the JetStream event stream: event streams are live only (no Last-Event-ID resume)",
    );
    return undefined;
  }
  logger.debug({ stream: EVENT_STREAM, ...options }, "event stream ready");
  return { js: jetstream(nc, { timeout: 5_000 }), jsm };
};

import { connectBus, type NatsConnection, watchBus } from "@umbra/bus";
import { connectRedis, type Redis as RedisClient, watchRedis } from "@umbra/store";
import { Context, Effect, Layer, Redacted } from "effect";
import { natsUrl, redisUrl } from "./config.js";
import { ConnectFailed, messageOf, showUrl } from "./errors.js";
import { limitedLog } from "./log-limit.js";
import { Log, type Logger } from "./logger.js";
import { connectionMetrics } from "./metrics.js";

/**
 * The process's connections as services: one NATS and one Redis connection per process,
 * shared by every service in it (`umbra all` runs four on the same two). Each Layer
 * connects at start (a failure is a `ConnectFailed` naming the server) and releases in
 * the process's shutdown after every service that uses it: NATS drains (everything
 * published is sent), Redis QUITs after its pending replies.
 */

/** Whether each connection made by `natsConnection` is up now. */
const natsStates = new WeakMap<NatsConnection, { readonly connected: boolean }>();

/** Connected now: not closed, and not between a disconnect and the reconnect. */
export const natsConnected = (nc: NatsConnection): boolean =>
  !nc.isClosed() && natsStates.get(nc)?.connected !== false;

/** Counts (`umbra_nats_*`) and logs what happens to the connection once made. */
const followNats = (nc: NatsConnection, url: string, logger: Logger): void => {
  const counts = connectionMetrics();
  const state = watchBus(nc, (event) => {
    switch (event.kind) {
      case "disconnected":
        counts.natsErrors.value++;
        logger.warn({ server: event.server }, "NATS connection lost; reconnecting");
        break;
      case "reconnected":
        counts.natsReconnects.value++;
        logger.info({ server: event.server }, "NATS connection re-established");
        break;
      case "error":
        counts.natsErrors.value++;
        // Can repeat per message (a permissions violation): rate-limited.
        limitedLog(logger).warn({ url, err: event.detail }, "NATS error");
        break;
      case "slow-consumer":
        // Can repeat for every message dropped: counted, logged at debug only.
        counts.natsErrors.value++;
        logger.debug({ subject: event.subject }, "NATS slow consumer: messages dropped");
        break;
    }
  });
  natsStates.set(nc, state);
};

/**
 * What the process runs (`edge`, `shard`…; `umbra` for all of them): the `service` of
 * its connections' log lines, and in their name on NATS and Redis (`umbra-edge`).
 */
export const ProcessName = Context.Reference<string>("@umbra/runtime/ProcessName", {
  defaultValue: () => "umbra",
});

const clientOf = Effect.gen(function* () {
  const process = yield* ProcessName;
  const logger = (yield* Log).child({ service: process });
  return { name: process === "umbra" ? "umbra" : `umbra-${process}`, logger };
});

/** The process's NATS connection. */
export class Nats extends Context.Service<Nats, NatsConnection>()("@umbra/runtime/Nats") {}

export const NatsLive = Layer.effect(
  Nats,
  Effect.gen(function* () {
    const url = Redacted.value(yield* natsUrl);
    const { name, logger } = yield* clientOf;
    return yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const nc = await connectBus({ url, name });
          followNats(nc, showUrl(url), logger);
          return nc;
        },
        catch: (e) =>
          new ConnectFailed({ server: "NATS", url: showUrl(url), reason: messageOf(e) }),
      }),
      (nc) => Effect.promise(() => nc.drain().catch(() => undefined)),
    );
  }),
);

/** The process's Redis connection; ready when its `status` is "ready". */
export class Redis extends Context.Service<Redis, RedisClient>()("@umbra/runtime/Redis") {}

const followRedis = (redis: RedisClient, url: string, logger: Logger): void => {
  const counts = connectionMetrics();
  watchRedis(redis, (event) => {
    switch (event.kind) {
      case "disconnected":
        counts.redisErrors.value++;
        logger.warn({ url }, "Redis connection lost; reconnecting");
        break;
      case "reconnected":
        counts.redisReconnects.value++;
        logger.info({ url }, "Redis connection re-established");
        break;
      case "error":
        // Repeats for every failed attempt while Redis is away: the loss was warned.
        counts.redisErrors.value++;
        logger.debug({ url, err: event.detail }, "Redis error");
        break;
    }
  });
};

export const RedisLive = Layer.effect(
  Redis,
  Effect.gen(function* () {
    const url = Redacted.value(yield* redisUrl);
    const shown = showUrl(url);
    const { name, logger } = yield* clientOf;
    return yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const redis = await connectRedis(url, name);
          followRedis(redis, shown, logger);
          return redis;
        },
        // The store's message names the URL (said once here, never with its password).
        catch: (e) =>
          new ConnectFailed({
            server: "Redis",
            url: shown,
            reason: messageOf(e)
              .replace(`cannot reach Redis at ${url}: `, "")
              .split(url)
              .join(shown),
          }),
      }),
      (redis) =>
        Effect.promise(() =>
          redis.quit().then(
            () => undefined,
            () => redis.disconnect(),
          ),
        ),
    );
  }),
);

import { connectBus, type NatsConnection, watchBus } from "@umbra/bus";
import { connectRedis, type Redis, watchRedis } from "@umbra/store";
import { Effect, type Scope } from "effect";
import { limitedLog } from "./log-limit.js";
import type { Logger } from "./logger.js";
import { StartupError } from "./main.js";
import { connectionMetrics } from "./metrics.js";

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Whether each connection made by `natsConnection` is up now. */
const natsStates = new WeakMap<NatsConnection, { readonly connected: boolean }>();

/** Connected now: not closed, and not between a disconnect and the reconnect. */
export const natsConnected = (nc: NatsConnection): boolean =>
  !nc.isClosed() && natsStates.get(nc)?.connected !== false;

/** Counts (`umbra_nats_*`) and logs what happens to the connection once made. */
const followNats = (nc: NatsConnection, url: string, logger: Logger | undefined): void => {
  const counts = connectionMetrics();
  const state = watchBus(nc, (event) => {
    switch (event.kind) {
      case "disconnected":
        counts.natsErrors.value++;
        logger?.warn({ server: event.server }, "NATS connection lost; reconnecting");
        break;
      case "reconnected":
        counts.natsReconnects.value++;
        logger?.info({ server: event.server }, "NATS connection re-established");
        break;
      case "error":
        counts.natsErrors.value++;
        // Can repeat per message (a permissions violation): rate-limited.
        if (logger !== undefined) limitedLog(logger).warn({ url, err: event.detail }, "NATS error");
        break;
      case "slow-consumer":
        // Can repeat for every message dropped: counted, logged at debug only.
        counts.natsErrors.value++;
        logger?.debug({ subject: event.subject }, "NATS slow consumer: messages dropped");
        break;
    }
  });
  natsStates.set(nc, state);
};

/** A NATS connection for the life of the scope; drained (everything published is sent) on release. */
export const natsConnection = (
  url: string,
  name: string,
  logger?: Logger,
): Effect.Effect<NatsConnection, StartupError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const nc = await connectBus({ url, name });
        followNats(nc, url, logger);
        return nc;
      },
      catch: (e) => new StartupError(`cannot connect to NATS at ${url}: ${reason(e)}`),
    }),
    (nc) => Effect.promise(() => nc.drain().catch(() => undefined)),
  );

/**
 * A Redis connection for the life of the scope; QUIT (after pending replies) on release.
 * Errors and reconnects are counted (`umbra_redis_*`); ready when `redis.status` is "ready".
 */
export const redisConnection = (
  url: string,
  name: string,
  logger?: Logger,
): Effect.Effect<Redis, StartupError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const redis = await connectRedis(url, name);
        const counts = connectionMetrics();
        watchRedis(redis, (event) => {
          switch (event.kind) {
            case "disconnected":
              counts.redisErrors.value++;
              logger?.warn({ url }, "Redis connection lost; reconnecting");
              break;
            case "reconnected":
              counts.redisReconnects.value++;
              logger?.info({ url }, "Redis connection re-established");
              break;
            case "error":
              // Repeats for every failed attempt while Redis is away: the loss was warned.
              counts.redisErrors.value++;
              logger?.debug({ url, err: event.detail }, "Redis error");
              break;
          }
        });
        return redis;
      },
      catch: (e) => new StartupError(reason(e)),
    }),
    (redis) =>
      Effect.promise(() =>
        redis.quit().then(
          () => undefined,
          () => redis.disconnect(),
        ),
      ),
  );

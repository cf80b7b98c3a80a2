import { connectBus, type NatsConnection } from "@umbra/bus";
import { connectRedis, type Redis } from "@umbra/store";
import { Effect, type Scope } from "effect";
import type { Logger } from "./logger.js";
import { StartupError } from "./main.js";

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A NATS connection for the life of the scope; drained (everything published is sent) on release. */
export const natsConnection = (
  url: string,
  name: string,
): Effect.Effect<NatsConnection, StartupError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectBus({ url, name }),
      catch: (e) => new StartupError(`cannot connect to NATS at ${url}: ${reason(e)}`),
    }),
    (nc) => Effect.promise(() => nc.drain().catch(() => undefined)),
  );

/** A Redis connection for the life of the scope; QUIT (after pending replies) on release. */
export const redisConnection = (
  url: string,
  name: string,
  logger?: Logger,
): Effect.Effect<Redis, StartupError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        connectRedis(url, name, (error) =>
          logger?.warn({ err: error.message, url }, "Redis connection lost; reconnecting"),
        ),
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

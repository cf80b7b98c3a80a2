import { Redis } from "ioredis";

export type { Redis } from "ioredis";

/**
 * Connects to Redis and checks it answers before returning, so a wrong URL is a clear
 * error at start rather than commands failing later. Commands are auto-pipelined:
 * concurrent actors' writes share round trips.
 */
export const connectRedis = async (
  url: string,
  name: string,
  onError: (error: Error) => void = () => {},
): Promise<Redis> => {
  const redis = new Redis(url, {
    connectionName: name,
    enableAutoPipelining: true,
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
  });
  // Connection errors are reported once per outage; commands that fail meanwhile
  // reject and are handled (and logged) by their callers.
  let reported = false;
  redis.on("error", (error: Error) => {
    if (reported) return;
    reported = true;
    onError(error);
  });
  redis.on("ready", () => {
    reported = false;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return redis;
};

/** What happens to a Redis connection after it is made, as `watchRedis` reports it. */
export type RedisEvent =
  | { readonly kind: "disconnected" }
  | { readonly kind: "reconnected" }
  /** A connection-level error: each failed reconnection attempt is one. */
  | { readonly kind: "error"; readonly detail: string };

/**
 * Calls `onEvent` when the connection (made and ready) is lost, for every client error,
 * and when it is ready again after a loss.
 */
export const watchRedis = (redis: Redis, onEvent: (event: RedisEvent) => void): void => {
  let up = true;
  redis.on("error", (error: Error) => onEvent({ kind: "error", detail: error.message }));
  // ioredis schedules a reconnection after a loss (never after quit()).
  redis.on("reconnecting", () => {
    if (!up) return;
    up = false;
    onEvent({ kind: "disconnected" });
  });
  redis.on("ready", () => {
    if (up) return;
    up = true;
    onEvent({ kind: "reconnected" });
  });
};

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

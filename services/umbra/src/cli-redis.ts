import { messageOf } from "@umbra/runtime";
import { connectRedis } from "@umbra/store";

type CliRedis = Awaited<ReturnType<typeof connectRedis>>;

/**
 * A CLI command's Redis (`REDIS_URL`, default redis://127.0.0.1:6379) for the length of
 * `use`, closed after it. A Redis that cannot be reached is `fail`'s one line.
 */
export const withCliRedis = async (
  fail: (message: string) => number,
  use: (redis: CliRedis) => Promise<number>,
): Promise<number> => {
  const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  let redis: CliRedis;
  try {
    redis = await connectRedis(url, "umbra-cli");
  } catch (e) {
    return fail(messageOf(e));
  }
  try {
    return await use(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
};

import { parsePartitionSet } from "@umbra/bus";
import { defaultLimits } from "@umbra/core";
import {
  ConfigInvalid,
  createLogger,
  instanceId,
  intInRange,
  logLevel,
  natsConnection,
  natsUrl,
  partitionCount,
  redisConnection,
  redisUrl,
} from "@umbra/runtime";
import { ShadowStore } from "@umbra/store";
import { Config, Effect } from "effect";
import { Shard } from "./shard.js";

/**
 * The shard service: reads its configuration, connects to NATS and Redis, serves its
 * partitions; on release stops taking commands and drains every mailbox before the
 * connections close.
 */
export const shardService = Effect.gen(function* () {
  const logger = createLogger("shard", yield* logLevel);
  const partitions = yield* partitionCount;
  const ownedText = yield* Config.String("SHARD_PARTITIONS").pipe(Config.withDefault("all"));
  const owned = parsePartitionSet(ownedText, partitions);
  if (!owned.ok)
    return yield* Effect.fail(
      new ConfigInvalid({ variable: "SHARD_PARTITIONS", problem: owned.error }),
    );
  const actorIdleMs = yield* intInRange("ACTOR_IDLE_MS", 300_000, 1_000, 86_400_000);
  const shardId = yield* instanceId("SHARD_ID");
  const nc = yield* natsConnection(yield* natsUrl, "umbra-shard");
  const redis = yield* redisConnection(yield* redisUrl, "umbra-shard", logger);
  const shard = new Shard(nc, new ShadowStore(redis), logger, {
    shardId,
    partitions,
    owned: owned.value,
    limits: defaultLimits,
    actorIdleMs,
  });
  yield* Effect.acquireRelease(
    Effect.sync(() => shard.start()),
    () => Effect.promise(() => shard.stop()),
  );
  logger.info({ shardId, partitions: owned.value.length, of: partitions }, "ready");
});

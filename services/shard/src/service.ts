import { CLUSTER_CHANGED, parsePartitionSet, publishOrDrop } from "@umbra/bus";
import { Membership, readClusterStatus } from "@umbra/cluster";
import { defaultLimits } from "@umbra/core";
import {
  busDropReporter,
  ConfigInvalid,
  createLogger,
  instanceId,
  intInRange,
  logLevel,
  natsConnected,
  natsConnection,
  natsUrl,
  partitionCount,
  redisConnection,
  redisUrl,
  serveOps,
  shutdownTimeoutMs,
} from "@umbra/runtime";
import { RedisShadowStore } from "@umbra/store";
import { Config, Effect } from "effect";
import { ShardMember } from "./member.js";
import { Shard } from "./shard.js";

const EMPTY = new Uint8Array(0);

/**
 * The shard service: reads its configuration, connects to NATS and Redis and serves
 * partitions — the ones rendezvous hashing gives it among the live members (the
 * default), or a fixed set (`SHARD_PARTITIONS`). On release it hands its partitions
 * off, lets every mailbox finish, and only then lets the connections close.
 */
export const shardService = Effect.gen(function* () {
  const logger = createLogger("shard", yield* logLevel);
  const partitions = yield* partitionCount;
  const ownedText = yield* Config.String("SHARD_PARTITIONS").pipe(Config.withDefault("auto"));
  const fixed = ownedText === "auto" ? undefined : parsePartitionSet(ownedText, partitions);
  if (fixed !== undefined && !fixed.ok)
    return yield* Effect.fail(
      new ConfigInvalid({ variable: "SHARD_PARTITIONS", problem: fixed.error }),
    );
  const actorIdleMs = yield* intInRange("ACTOR_IDLE_MS", 300_000, 1_000, 86_400_000);
  const maxActors = yield* intInRange("MAX_ACTORS", 100_000, 10, 100_000_000);
  // A device's legitimate backlog is its session's in-flight window (32) and a few cloud
  // calls; a flood past these is refused instead of held (see Shard#shed).
  const maxMailbox = yield* intInRange("ACTOR_MAILBOX_MAX", 1_000, 1, 1_000_000);
  const maxQueuedBytes = yield* intInRange(
    "SHARD_QUEUE_MAX_BYTES",
    64 * 1024 * 1024,
    64 * 1024,
    16 * 1024 * 1024 * 1024,
  );
  const heartbeatMs = yield* intInRange("MEMBER_HEARTBEAT_MS", 1_000, 50, 60_000);
  const leaseMs = yield* intInRange("MEMBER_LEASE_MS", 5_000, 150, 600_000);
  if (leaseMs < 3 * heartbeatMs)
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: "MEMBER_LEASE_MS",
        problem: `must be at least three heartbeats (MEMBER_HEARTBEAT_MS × 3 = ${3 * heartbeatMs}), got ${leaseMs}`,
      }),
    );
  const handoffTimeoutMs = yield* intInRange("HANDOFF_TIMEOUT_MS", 2 * leaseMs, 0, 3_600_000);
  // The hand-off happens inside the shutdown: the shutdown's deadline must leave it time.
  const shutdownMs = yield* shutdownTimeoutMs;
  if (handoffTimeoutMs >= shutdownMs)
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: "SHUTDOWN_TIMEOUT_MS",
        problem: `must exceed the hand-off (HANDOFF_TIMEOUT_MS = ${handoffTimeoutMs}), got ${shutdownMs}`,
      }),
    );
  const shardId = yield* instanceId("SHARD_ID");
  const nc = yield* natsConnection(yield* natsUrl, "umbra-shard", logger);
  const redis = yield* redisConnection(yield* redisUrl, "umbra-shard", logger);
  const membership = new Membership(redis, leaseMs);
  const dropped = busDropReporter(logger);
  // Ready while connected and serving; not while starting or draining.
  let serving = false;
  const ops = yield* serveOps(
    {
      service: "shard",
      readiness: () => ({
        ready: serving && natsConnected(nc) && redis.status === "ready",
        nats: natsConnected(nc),
        redis: redis.status,
        partitions: shard.ownedPartitions,
      }),
      routes: {
        "/cluster": async () => ({
          status: 200,
          body: await readClusterStatus(membership, partitions),
        }),
      },
    },
    logger,
  );
  const shard = new Shard(nc, new RedisShadowStore(redis), logger, {
    shardId,
    partitions,
    owned: fixed?.value ?? [],
    limits: defaultLimits,
    actorIdleMs,
    maxActors,
    maxMailbox,
    maxQueuedBytes,
  });
  if (fixed !== undefined) {
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        shard.start();
        serving = true;
      }),
      () =>
        Effect.promise(() => {
          serving = false;
          return shard.stop();
        }),
    );
    logger.info(
      { shardId, partitions: fixed.value.length, of: partitions, mode: "fixed", opsPort: ops },
      "ready",
    );
    return;
  }
  const member = new ShardMember(shard, membership, logger, {
    id: shardId,
    partitions,
    heartbeatMs,
    leaseMs,
    flushBus: () => nc.flush(),
    nudgeOthers: () => publishOrDrop(nc, CLUSTER_CHANGED, EMPTY, undefined, dropped),
  });
  const nudges = nc.subscribe(CLUSTER_CHANGED, { callback: () => member.nudged() });
  yield* Effect.acquireRelease(
    Effect.promise(async () => {
      shard.start();
      await member.join();
      serving = true;
    }),
    () =>
      Effect.promise(async () => {
        serving = false;
        await member.leave(handoffTimeoutMs);
        nudges.unsubscribe();
      }),
  );
  logger.info(
    { shardId, partitions: shard.ownedPartitions, of: partitions, mode: "cluster", opsPort: ops },
    "ready",
  );
});

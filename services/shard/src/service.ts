import { CLUSTER_CHANGED, parsePartitionSet, publishOrDrop } from "@umbra/bus";
import { Membership, readClusterStatus } from "@umbra/cluster";
import { defaultLimits } from "@umbra/core";
import {
  busDropReporter,
  ConfigInvalid,
  instanceId,
  intInRange,
  Nats,
  natsConnected,
  optionalIntInRange,
  partitionCount,
  Redis,
  serveOps,
  serviceLogger,
  shutdownTimeoutMs,
  text,
} from "@umbra/runtime";
import { RedisShadowStore } from "@umbra/store";
import { Config, Effect, Layer } from "effect";
import { ShardMember } from "./member.js";
import { Shard } from "./shard.js";

const EMPTY = new Uint8Array(0);

/** The shard's environment, read once. */
const shardEnv = Config.all({
  partitions: partitionCount,
  ownedText: text("SHARD_PARTITIONS", "auto"),
  actorIdleMs: intInRange("ACTOR_IDLE_MS", 300_000, 1_000, 86_400_000),
  maxActors: intInRange("MAX_ACTORS", 100_000, 10, 100_000_000),
  // A device's legitimate backlog is its session's in-flight window (32) and a few cloud
  // calls; a flood past these is refused instead of held (see Shard#shed).
  maxMailbox: intInRange("ACTOR_MAILBOX_MAX", 1_000, 1, 1_000_000),
  maxQueuedBytes: intInRange(
    "SHARD_QUEUE_MAX_BYTES",
    64 * 1024 * 1024,
    64 * 1024,
    16 * 1024 * 1024 * 1024,
  ),
  // AWS IoT's default quota of named shadows per thing.
  maxNamedShadows: intInRange("SHARD_MAX_NAMED_SHADOWS", 10, 1, 10_000),
  heartbeatMs: intInRange("MEMBER_HEARTBEAT_MS", 1_000, 50, 60_000),
  leaseMs: intInRange("MEMBER_LEASE_MS", 5_000, 150, 600_000),
  handoffTimeoutMs: optionalIntInRange("HANDOFF_TIMEOUT_MS", 0, 3_600_000),
  shutdownMs: shutdownTimeoutMs,
  shardId: instanceId("SHARD_ID"),
});

/** The shard's configuration: the environment, checked as a whole. */
export const shardConfig = Effect.gen(function* () {
  const env = yield* shardEnv;
  const fixed =
    env.ownedText === "auto" ? undefined : parsePartitionSet(env.ownedText, env.partitions);
  if (fixed !== undefined && !fixed.ok)
    return yield* Effect.fail(
      new ConfigInvalid({ variable: "SHARD_PARTITIONS", problem: fixed.error }),
    );
  if (env.leaseMs < 3 * env.heartbeatMs)
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: "MEMBER_LEASE_MS",
        problem: `must be at least three heartbeats (MEMBER_HEARTBEAT_MS × 3 = ${3 * env.heartbeatMs}), got ${env.leaseMs}`,
      }),
    );
  const handoffTimeoutMs = env.handoffTimeoutMs ?? 2 * env.leaseMs;
  // The hand-off happens inside the shutdown: the shutdown's deadline must leave it time.
  if (handoffTimeoutMs >= env.shutdownMs)
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: "SHUTDOWN_TIMEOUT_MS",
        problem: `must exceed the hand-off (HANDOFF_TIMEOUT_MS = ${handoffTimeoutMs}), got ${env.shutdownMs}`,
      }),
    );
  return { ...env, fixed: fixed?.value, handoffTimeoutMs };
});

export type ShardConfig = Effect.Success<typeof shardConfig>;

/**
 * The shard service: serves partitions — the ones rendezvous hashing gives it among the
 * live members (the default), or a fixed set (`SHARD_PARTITIONS`). On release it hands
 * its partitions off, lets every mailbox finish, and only then lets the connections close.
 */
export const shardLayer = (config: ShardConfig) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const { partitions, shardId, fixed, heartbeatMs, leaseMs, handoffTimeoutMs } = config;
      const logger = yield* serviceLogger("shard");
      const nc = yield* Nats;
      const redis = yield* Redis;
      const membership = new Membership(redis, leaseMs);
      const dropped = busDropReporter(logger);
      // Ready while connected and serving; not while starting or draining.
      let serving = false;
      const ops = yield* serveOps({
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
      });
      const shard = new Shard(nc, new RedisShadowStore(redis), logger, {
        shardId,
        partitions,
        owned: fixed ?? [],
        limits: defaultLimits,
        actorIdleMs: config.actorIdleMs,
        maxActors: config.maxActors,
        maxMailbox: config.maxMailbox,
        maxQueuedBytes: config.maxQueuedBytes,
        maxNamedShadows: config.maxNamedShadows,
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
          { shardId, partitions: fixed.length, of: partitions, mode: "fixed", opsPort: ops },
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
        {
          shardId,
          partitions: shard.ownedPartitions,
          of: partitions,
          mode: "cluster",
          opsPort: ops,
        },
        "ready",
      );
    }),
  );

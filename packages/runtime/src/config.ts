import { hostname } from "node:os";
import { Config, Data, Effect } from "effect";
import { LOG_LEVELS } from "./logger.js";

/**
 * Configuration every service reads from the environment, validated once at start: a
 * bad value stops the process with a message naming the variable.
 */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly variable: string;
  readonly problem: string;
}> {
  override get message(): string {
    return `bad configuration: ${this.variable}: ${this.problem}`;
  }
}

export const natsUrl = Config.String("NATS_URL").pipe(Config.withDefault("nats://127.0.0.1:4222"));
export const redisUrl = Config.String("REDIS_URL").pipe(
  Config.withDefault("redis://127.0.0.1:6379"),
);
export const logLevel = Config.Literals(LOG_LEVELS, "LOG_LEVEL").pipe(Config.withDefault("info"));

/** An integer variable within [min, max], `fallback` when unset. */
export const intInRange = (name: string, fallback: number, min: number, max: number) =>
  Effect.gen(function* () {
    const value = yield* Config.Int(name).pipe(Config.withDefault(fallback));
    if (value < min || value > max)
      return yield* Effect.fail(
        new ConfigInvalid({
          variable: name,
          problem: `must be between ${min} and ${max}, got ${value}`,
        }),
      );
    return value;
  });

/**
 * How long an orderly shutdown may take after SIGTERM/SIGINT before the process exits
 * anyway (code 1): a drain waiting on a NATS or Redis that is gone must not hang it.
 * Above a shard's hand-off (HANDOFF_TIMEOUT_MS, 10 s by default) and below Kubernetes'
 * grace period (60 s on shards, 30 s elsewhere).
 */
export const shutdownTimeoutMs = intInRange("SHUTDOWN_TIMEOUT_MS", 30_000, 1_000, 3_600_000);

/** P, the number of partitions of the cluster: fixed for its lifetime. */
export const partitionCount = intInRange("UMBRA_PARTITIONS", 1024, 1, 65_536);

/** `on` / `off` switch. */
export const onOff = (name: string, fallback: "on" | "off") =>
  Config.Literals(["on", "off"], name).pipe(Config.withDefault(fallback));

/**
 * A process's name in the cluster (`EDGE_ID`, `SHARD_ID`): it appears in subjects and
 * logs. Unset, it is made unique from the host name, the process id and a random tail,
 * so a restarted process never answers for the one before it.
 */
export const instanceId = (name: string) =>
  Config.String(name).pipe(
    Config.withDefault(`${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`),
  );

/** A TCP port that is off unless set: `undefined` when the variable is unset or empty. */
export const optionalPort = (name: string) =>
  Effect.gen(function* () {
    const text = yield* Config.String(name).pipe(Config.withDefault(""));
    if (text.trim() === "") return undefined;
    const port = Number(text);
    if (!Number.isInteger(port) || port < 0 || port > 65_535)
      return yield* Effect.fail(
        new ConfigInvalid({ variable: name, problem: `must be a port (0-65535), got '${text}'` }),
      );
    return port;
  });

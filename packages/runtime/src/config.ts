import { hostname } from "node:os";
import { Config, Redacted, Schema } from "effect";

/**
 * The pieces every service's configuration struct is made of (`Config.all` of them, read
 * once at start). A bad value fails with Effect's `ConfigError`, which `renderFailure`
 * turns into one line naming the variable; a value that contradicts another one is a
 * `ConfigInvalid` (errors.ts).
 */

const rangedInt = (name: string, min: number, max: number) =>
  Config.schema(
    Schema.Int.check(
      Schema.makeFilter(
        (value: number) =>
          (value >= min && value <= max) || `must be between ${min} and ${max}, got ${value}`,
      ),
    ),
    name,
  );

/** An integer within [min, max], `fallback` when unset. */
export const intInRange = (name: string, fallback: number, min: number, max: number) =>
  rangedInt(name, min, max).pipe(Config.withDefault(fallback));

/** An integer within [min, max], `undefined` when unset (its default depends on another). */
export const optionalIntInRange = (name: string, min: number, max: number) =>
  rangedInt(name, min, max).pipe(Config.withDefault(undefined));

/**
 * A TCP port to listen on. Not `Config.Port`: 0 (any free port) is valid here, which
 * tests and `umbra all` on a busy machine rely on.
 */
export const listenPort = (name: string, fallback: number) => intInRange(name, fallback, 0, 65_535);

const isPortText = (text: string): boolean => {
  const port = Number(text);
  return text !== "" && Number.isInteger(port) && port >= 0 && port <= 65_535;
};

/**
 * A port that can be switched off: `undefined` when the variable is unset, empty or
 * `offWord` (when given); `fallback` applies when it is unset.
 */
export const optionalPort = (name: string, fallback = "", offWord?: string) =>
  Config.schema(
    Schema.String.check(
      Schema.makeFilter((raw: string) => {
        const text = raw.trim();
        if (text === "" || text === offWord || isPortText(text)) return true;
        return `must be a port (0-65535)${offWord === undefined ? "" : ` or ${offWord}`}, got '${text}'`;
      }),
    ),
    name,
  ).pipe(
    Config.withDefault(fallback),
    Config.map((raw) => {
      const text = raw.trim();
      return text === "" || text === offWord ? undefined : Number(text);
    }),
  );

/** A URL that may carry credentials (`redis://:password@host`): never logged as is. */
export const secretUrl = (name: string, fallback: string) =>
  Config.Redacted(name).pipe(Config.withDefault(Redacted.make(fallback)));

export const natsUrl = secretUrl("NATS_URL", "nats://127.0.0.1:4222");
export const redisUrl = secretUrl("REDIS_URL", "redis://127.0.0.1:6379");

/** A string, `fallback` when unset. */
export const text = (name: string, fallback: string) =>
  Config.String(name).pipe(Config.withDefault(fallback));

/** A file path that is off unless set: `undefined` when unset or blank. */
export const optionalPath = (name: string) =>
  Config.String(name).pipe(
    Config.withDefault(""),
    Config.map((path) => (path.trim() === "" ? undefined : path.trim())),
  );

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

/** `on` / `off` switch whose default is another switch's value: `undefined` when unset. */
export const optionalOnOff = (name: string) =>
  Config.Literals(["on", "off"], name).pipe(Config.withDefault(undefined));

/**
 * A process's name in the cluster (`EDGE_ID`, `SHARD_ID`): it appears in subjects and
 * logs. Unset, it is made unique from the host name, the process id and a random tail,
 * so a restarted process never answers for the one before it.
 */
export const instanceId = (name: string) =>
  Config.String(name).pipe(
    Config.withDefault(`${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`),
  );

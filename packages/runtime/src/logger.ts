import { Config, Context, Effect, Layer } from "effect";
import { type Logger, pino } from "pino";

export type { Logger } from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const logLevel = Config.Literals(LOG_LEVELS, "LOG_LEVEL").pipe(Config.withDefault("info"));

/**
 * One JSON line per event worth logging, on stdout, tagged with the service. Nothing
 * is logged per message at info: per-message lines are debug.
 */
export const createLogger = (service: string, level: LogLevel = "info"): Logger =>
  pino({ level, base: { service } });

/**
 * The process's one logger (level from LOG_LEVEL). A service logs through
 * `serviceLogger(name)`: a child tagged with its name, so `umbra all` writes one stream.
 */
export class Log extends Context.Service<Log, Logger>()("@umbra/runtime/Log") {}

export const LogLive = Layer.effect(
  Log,
  Effect.acquireRelease(
    Effect.map(logLevel, (level) => pino({ level, base: null })),
    (logger) => Effect.sync(() => logger.flush()),
  ),
);

/** The process's logger, tagged `service`. */
export const serviceLogger = (service: string) =>
  Effect.map(Log, (logger) => logger.child({ service }));

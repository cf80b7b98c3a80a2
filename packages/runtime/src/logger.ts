import { type Logger, pino } from "pino";

export type { Logger } from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * One JSON line per event worth logging, on stdout, tagged with the service. Nothing
 * is logged per message at info: per-message lines are debug.
 */
export const createLogger = (service: string, level: LogLevel = "info"): Logger =>
  pino({ level, base: { service } });

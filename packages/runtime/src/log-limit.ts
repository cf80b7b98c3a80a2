import type { Logger } from "./logger.js";

export interface LogLimitOptions {
  /** Lines of one message let through per interval (default 5). */
  readonly perInterval?: number;
  /** The interval, in ms (default 10 000). */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

interface Window {
  start: number;
  logged: number;
  suppressed: number;
}

/** Distinct messages followed at once; past it the table starts over (messages are constants). */
const MAX_KEYS = 1_000;

/**
 * Rate limit for log lines that can repeat once per message (an unreadable frame, a
 * refused command): the first `perInterval` lines of one message in an interval are
 * written, the rest only counted; the first line of the next interval carries that
 * count as `suppressed`. Keyed by the message text, so one noisy message does not
 * silence the others. A flood of 73,000 identical lines in 20 s becomes ~10.
 */
export class LimitedLog {
  readonly #logger: Logger;
  readonly #perInterval: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(logger: Logger, options: LogLimitOptions = {}) {
    this.#logger = logger;
    this.#perInterval = options.perInterval ?? 5;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  warn(fields: object, msg: string): void {
    const suppressed = this.#admit(msg);
    if (suppressed === undefined) return;
    this.#logger.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }

  error(fields: object, msg: string): void {
    const suppressed = this.#admit(msg);
    if (suppressed === undefined) return;
    this.#logger.error(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }

  /** `undefined`: not to be written; else how many were suppressed before it. */
  #admit(key: string): number | undefined {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (window === undefined) {
      if (this.#windows.size >= MAX_KEYS) this.#windows.clear();
      window = { start: now, logged: 0, suppressed: 0 };
      this.#windows.set(key, window);
    } else if (now - window.start >= this.#intervalMs) {
      const suppressed = window.suppressed;
      window.start = now;
      window.logged = 1;
      window.suppressed = 0;
      return suppressed;
    }
    if (window.logged < this.#perInterval) {
      window.logged++;
      return 0;
    }
    window.suppressed++;
    return undefined;
  }
}

const shared = new WeakMap<Logger, LimitedLog>();

/** The rate-limited face of `logger` (one per logger, so all its users share the limits). */
export const limitedLog = (logger: Logger): LimitedLog => {
  let log = shared.get(logger);
  if (log === undefined) {
    log = new LimitedLog(logger);
    shared.set(logger, log);
  }
  return log;
};

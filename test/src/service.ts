import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeExit, spawnChild } from "./processes.js";
import { withDeadline } from "./wait.js";

/** The repository root, from test/dist/src/service.js. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The one launcher of every Umbra service: `umbra all|edge|shard|reply`. */
export const UMBRA_MAIN = fileURLToPath(
  new URL("../../../services/umbra/dist/src/main.js", import.meta.url),
);

export type LogLine = Record<string, unknown>;

export interface StartServiceOptions {
  /** Services whose `"msg":"ready"` line must appear; default args[0], `umbra` for `all`. */
  readonly ready?: readonly string[];
  /** How long to wait for them, in ms (default 20 000). */
  readonly timeoutMs?: number;
  /** The script node runs instead of the umbra launcher (the harness's own tests use it). */
  readonly script?: string;
  /** Options for node itself, before the script (e.g. `--cpu-prof` to profile a service). */
  readonly nodeArgs?: readonly string[];
}

export interface ServiceProcess {
  readonly proc: ChildProcess;
  /** Each ready line's JSON, by service name (edge's carries `mqttPort`). */
  readonly ready: Record<string, LogLine>;
  /** The last ~200 lines of output, stdout and stderr interleaved. */
  logs(): string;
  /** The first JSON log line from now on (or already seen) that `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM (or `signal`), waits for the exit, SIGKILL after 10 s; the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const parseLine = (line: string): LogLine | undefined => {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as LogLine)
      : undefined;
  } catch {
    return undefined;
  }
};

/** pino levels that hide info lines, such as the ready line of the contract's example. */
const QUIET = new Set(["warn", "error", "fatal", "silent"]);

/**
 * Starts `node services/umbra/dist/src/main.js ...args` with process.env and `env`, and
 * resolves once every awaited service has logged its ready line. Rejects, with the
 * captured output, if the process exits first or the deadline passes (the process is
 * killed then).
 */
export const startService = async (
  args: readonly string[],
  env: Record<string, string>,
  options: StartServiceOptions = {},
): Promise<ServiceProcess> => {
  const script = options.script ?? UMBRA_MAIN;
  if (!existsSync(script)) throw new Error(`${script} does not exist: build first (npm run build)`);
  const command = args[0] ?? "all";
  const awaited = options.ready ?? [command === "all" ? "umbra" : command];
  const timeoutMs = options.timeoutMs ?? 20_000;
  const label = `umbra ${args.join(" ")}`.trim();

  const child = spawnChild(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    cwd: REPO_ROOT,
    // The TLS listener (default port 8883) only where a test asks for it: parallel
    // processes would compete for the port, and each would write a development CA.
    env: { MQTTS_PORT: "off", ...process.env, ...env },
  });
  const ready: Record<string, LogLine> = {};
  const seen: LogLine[] = [];
  const watchers = new Set<(line: LogLine) => void>();
  let allReady: () => void = () => {};
  const readyNow = new Promise<void>((resolve) => {
    allReady = resolve;
  });

  child.onLine((text) => {
    const line = parseLine(text);
    if (line === undefined) return;
    // Kept for waitForLog: a bounded window, like the tail.
    seen.push(line);
    if (seen.length > 1000) seen.shift();
    if (line.msg === "ready" && typeof line.service === "string") {
      ready[line.service] = line;
      if (awaited.every((name) => name in ready)) allReady();
    }
    for (const watcher of watchers) watcher(line);
  });

  const waiting = () => awaited.filter((name) => !(name in ready));
  const hint = () => {
    const level = env.LOG_LEVEL ?? process.env.LOG_LEVEL;
    return level !== undefined && QUIET.has(level)
      ? `\n(LOG_LEVEL=${level}: ready lines logged at info level would be hidden)`
      : "";
  };
  const output = () => `\n--- last output of ${label} ---\n${child.tail.text()}`;

  const exitedFirst = child.exited.then((exit) => {
    throw new Error(
      `${label} ${describeExit(exit)} before it was ready (waiting for: ${waiting().join(", ")})${output()}`,
    );
  });
  try {
    await withDeadline(
      Promise.race([readyNow, exitedFirst]),
      timeoutMs,
      () =>
        `${label} not ready within ${timeoutMs} ms (waiting for: ${waiting().join(", ")}; ` +
        `ready: ${Object.keys(ready).join(", ") || "none"})${hint()}${output()}`,
    );
  } catch (error) {
    await child.stop("SIGKILL");
    throw error;
  } finally {
    // Once ready, a later exit is the test's business, not an unhandled rejection.
    exitedFirst.catch(() => {});
  }

  const waitForLog = (match: (line: LogLine) => boolean, ms = 10_000): Promise<LogLine> => {
    const earlier = seen.find(match);
    if (earlier !== undefined) return Promise.resolve(earlier);
    let watcher: (line: LogLine) => void = () => {};
    const found = new Promise<LogLine>((resolve) => {
      watcher = (line) => {
        if (match(line)) resolve(line);
      };
      watchers.add(watcher);
    });
    const exited = child.exited.then((exit) => {
      throw new Error(`${label} ${describeExit(exit)} before the awaited log line${output()}`);
    });
    return withDeadline(
      Promise.race([found, exited]),
      ms,
      () => `${label}: no matching log line within ${ms} ms${output()}`,
    ).finally(() => {
      watchers.delete(watcher);
      exited.catch(() => {});
    });
  };

  return {
    proc: child.proc,
    ready,
    logs: () => child.tail.text(),
    waitForLog,
    stop: (signal = "SIGTERM") => child.stop(signal),
  };
};

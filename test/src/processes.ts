import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { accessSync, constants, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { withDeadline } from "./wait.js";

/** Every child this process started and that has not exited yet. */
const running = new Set<ChildProcess>();
/** Temporary directories still to remove. */
const tempDirs = new Set<string>();

const killAll = (): void => {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone: nothing to kill.
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
};

let hooked = false;

/**
 * A test that forgets stop() must not leave a server behind: on exit (only synchronous
 * work runs there) every child gets SIGKILL. A SIGINT/SIGTERM would skip "exit", so they
 * kill the children too and then take their default course.
 */
const hookExit = (): void => {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      // Other listeners (node:test has some) decide; with none left, the default kills us.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
};

/** Registers a temporary directory to remove at exit if nobody removes it before. */
export const trackTempDir = (dir: string): (() => void) => {
  hookExit();
  tempDirs.add(dir);
  return () => {
    tempDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  };
};

/** The last lines a process wrote, stdout and stderr interleaved as they came. */
export class OutputTail {
  private readonly lines: string[] = [];
  private readonly partial = { stdout: "", stderr: "" };

  constructor(private readonly max = 200) {}

  /** Appends a chunk; returns the complete lines it finished. */
  push(stream: "stdout" | "stderr", chunk: string): string[] {
    const text = this.partial[stream] + chunk;
    const parts = text.split("\n");
    this.partial[stream] = parts.pop() ?? "";
    for (const line of parts) this.keep(stream === "stderr" ? `[stderr] ${line}` : line);
    return parts;
  }

  text(): string {
    const pending = [this.partial.stdout, this.partial.stderr]
      .map((rest, i) => (rest === "" ? "" : i === 1 ? `[stderr] ${rest}` : rest))
      .filter((rest) => rest !== "");
    return [...this.lines, ...pending].join("\n");
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Child {
  readonly proc: ChildProcess;
  readonly tail: OutputTail;
  /** Settles when the process has exited (or could not be spawned). */
  readonly exited: Promise<Exit>;
  /** The exit, once it happened. */
  exit(): Exit | undefined;
  /** Called with every complete stdout line. */
  onLine(listener: (line: string) => void): void;
  /** Sends `signal`, waits for the exit, SIGKILL after `graceMs`; the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/**
 * Spawns a process whose output is captured and which is killed when this process exits.
 * It is unref'd: a forgotten child must not keep a test file's process alive.
 */
export const spawnChild = (
  command: string,
  args: readonly string[],
  options: Omit<SpawnOptions, "stdio"> = {},
): Child => {
  hookExit();
  const proc = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  const tail = new OutputTail();
  const lineListeners: ((line: string) => void)[] = [];
  let exit: Exit | undefined;

  running.add(proc);
  proc.unref();
  for (const name of ["stdout", "stderr"] as const) {
    const stream = proc[name];
    if (stream === null) continue;
    stream.setEncoding("utf8");
    (stream as unknown as { unref?: () => void }).unref?.();
    stream.on("data", (chunk: string) => {
      const lines = tail.push(name, chunk);
      if (name === "stdout") for (const line of lines) for (const l of lineListeners) l(line);
    });
  }

  const exited = new Promise<Exit>((resolve) => {
    proc.once("exit", (code, signal) => {
      running.delete(proc);
      exit = { code, signal };
      resolve(exit);
    });
    proc.once("error", (error) => {
      // Spawning failed: there will be no "exit".
      if (proc.pid !== undefined) return;
      running.delete(proc);
      tail.push("stderr", `${error.message}\n`);
      exit = { code: null, signal: null };
      resolve(exit);
    });
  });

  const stop = async (signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000) => {
    if (exit === undefined) {
      proc.kill(signal);
      try {
        await withDeadline(exited, graceMs, () => "grace period over");
      } catch {
        proc.kill("SIGKILL");
      }
    }
    return (await exited).code;
  };

  return {
    proc,
    tail,
    exited,
    exit: () => exit,
    onLine: (listener) => {
      lineListeners.push(listener);
    },
    stop,
  };
};

/** Describes an exit for an error message. */
export const describeExit = ({ code, signal }: Exit): string =>
  signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;

/** Where Debian puts daemons: often not on a non-root user's PATH. */
const SBIN = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/**
 * The absolute path of an executable, from PATH or an sbin directory; throws naming the
 * Debian package to install when it is nowhere.
 */
export const findBinary = (name: string, debianPackage: string): string => {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""), ...SBIN];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not in this directory.
    }
  }
  throw new Error(
    `${name} is not installed (looked in PATH and ${SBIN.join(", ")}): ` +
      `install the Debian package '${debianPackage}' (apt-get install -y ${debianPackage}), ` +
      "or run a Docker engine so the harness uses containers",
  );
};

/**
 * The Mosquitto command-line clients (mosquitto_pub, mosquitto_sub, mosquitto_rr of the
 * Debian package mosquitto-clients) run as a device would run them. Their stdout goes
 * through `stdbuf -oL`: piped, they would hold their output back until they exit, and a
 * test waiting for a debug line ("received SUBACK") must see it when it is printed.
 * Every client still running when this process exits is killed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { findBinary } from "./processes.js";
import { withDeadline } from "./wait.js";

export type MosquittoTool = "mosquitto_pub" | "mosquitto_sub" | "mosquitto_rr";

/** What a device connects with: username = product id, client id = device name. */
export interface CliCredentials {
  readonly productId: string;
  readonly deviceName: string;
  readonly token: string;
}

/** `-h -p -i -u -P`: connects as `device`, with its token unless `password` is given. */
export const deviceArgs = (
  port: number,
  device: CliCredentials,
  password: string = device.token,
): string[] => [
  "-h",
  "127.0.0.1",
  "-p",
  String(port),
  "-i",
  device.deviceName,
  "-u",
  device.productId,
  "-P",
  password,
];

/** How long a client waits for its answer (-W, seconds): reached only when a test fails. */
export const CLI_WAIT_S = 10;
/** -F: the topic, a space, the payload. */
export const CLI_FORMAT = "%t %p";

/** A device's client command line; each option given becomes its flag. */
export interface DeviceCommand {
  readonly port: number;
  readonly device: CliCredentials;
  /** -P other than the device's token. */
  readonly password?: string;
  /** -V */
  readonly protocol?: "mqttv5" | "mqttv311";
  /** -d: debug lines (CONNACK, SUBACK, PUBACK…). */
  readonly debug?: boolean;
  /** -q */
  readonly qos?: 0 | 1;
  /** -C: messages to take before leaving. */
  readonly count?: number;
  /** -W (seconds); `CLI_WAIT_S` is the usual one. */
  readonly waitS?: number;
  /** -F; `CLI_FORMAT` is the usual one. */
  readonly format?: string;
  /** -t, once each. */
  readonly topics?: readonly string[];
  /** -e: mosquitto_rr's answer topic. */
  readonly answer?: string;
  /** The message options, as given: `["-m", …]` or `["-n"]`. */
  readonly body?: readonly string[];
}

/** The arguments of `command`, connecting as its device (`deviceArgs`). */
export const deviceCommand = (command: DeviceCommand): string[] => {
  const args = deviceArgs(command.port, command.device, command.password);
  const flag = (name: string, value: string | number | undefined) => {
    if (value !== undefined) args.push(name, String(value));
  };
  flag("-V", command.protocol);
  if (command.debug === true) args.push("-d");
  flag("-q", command.qos);
  flag("-C", command.count);
  flag("-W", command.waitS);
  flag("-F", command.format);
  for (const topic of command.topics ?? []) flag("-t", topic);
  flag("-e", command.answer);
  args.push(...(command.body ?? []));
  return args;
};

export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A run of a client for an assertion message: command, exit, output. */
export const describeRun = (command: string, run: CliExit): string =>
  `${command}: exit ${run.code ?? run.signal}\n--- stdout ---\n${run.stdout}--- stderr ---\n${run.stderr}`;

/** Fails unless the client exited with `code`, showing its run. */
export const assertExit = (run: CliExit & { readonly command: string }, code: number): void =>
  assert.equal(run.code, code, describeRun(run.command, run));

/** Lines that are printed messages (`-F '%t %p'`), not debug lines. */
export const printedLines = (output: string | readonly string[]): string[] =>
  (typeof output === "string" ? output.split("\n") : output).filter((l) => l.startsWith("$sys/"));

/** The first printed message (`-F '%t %p'`) among a client's output lines, split. */
export const printedAnswer = (
  output: string | readonly string[],
  command: string,
): { topic: string; body: unknown } => {
  const line = printedLines(output)[0];
  const shown = typeof output === "string" ? output : output.join("\n");
  assert.ok(line !== undefined, `${command} printed no message:\n${shown}`);
  const space = line.indexOf(" ");
  return { topic: line.slice(0, space), body: JSON.parse(line.slice(space + 1)) };
};

export interface CliClient {
  /** The command line, for messages. */
  readonly command: string;
  /** Complete stdout lines so far. */
  readonly lines: readonly string[];
  /** The first stdout line (already printed or to come) that `match` accepts. */
  waitForLine(match: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits for the exit and the end of the output; SIGKILL and rejection after `timeoutMs`. */
  finished(timeoutMs?: number): Promise<CliExit>;
  /** SIGKILL if still running. */
  kill(): void;
}

const running = new Set<ChildProcess>();
let hooked = false;
const hookExit = (): void => {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
};

const binaries = new Map<string, string>();
const binary = (name: string, debianPackage: string): string => {
  let path = binaries.get(name);
  if (path === undefined) {
    path = findBinary(name, debianPackage);
    binaries.set(name, path);
  }
  return path;
};

/** Throws, naming the package to install, when a client or stdbuf is missing. */
export const requireMosquittoClients = (): void => {
  binary("stdbuf", "coreutils");
  for (const tool of ["mosquitto_pub", "mosquitto_sub", "mosquitto_rr"] as const)
    binary(tool, "mosquitto-clients");
};

/** An argument as a shell would need it, a long one (a big payload) cut short. */
const quote = (arg: string): string => {
  const shown = arg.length > 120 ? `${arg.slice(0, 60)}…(${arg.length} characters)` : arg;
  return /^[\w./:=-]+$/.test(shown) ? shown : `'${shown}'`;
};

/** Starts `tool args`, its stdout line-buffered. */
export const startCliClient = (tool: MosquittoTool, args: readonly string[]): CliClient => {
  hookExit();
  const command = `${tool} ${args.map(quote).join(" ")}`;
  const argv = ["-oL", binary(tool, "mosquitto-clients"), ...args];
  const proc = spawn(binary("stdbuf", "coreutils"), argv, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  const lines: string[] = [];
  let stdout = "";
  let stderr = "";
  let partial = "";
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  proc.stdout.setEncoding("utf8");
  proc.stderr.setEncoding("utf8");
  proc.stdout.on("data", (chunk: string) => {
    stdout += chunk;
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    wake();
  });
  proc.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  let exit: CliExit | undefined;
  // "close", not "exit": the output is complete only once the pipes are closed.
  const closed = new Promise<CliExit>((resolve) => {
    proc.once("close", (code, signal) => {
      running.delete(proc);
      if (partial !== "") lines.push(partial);
      exit = { code, signal, stdout, stderr };
      wake();
      resolve(exit);
    });
    proc.once("error", (error) => {
      if (proc.pid !== undefined) return; // running: "close" follows
      running.delete(proc);
      exit = { code: null, signal: null, stdout, stderr: `${stderr}${error.message}\n` };
      wake();
      resolve(exit);
    });
  });
  const output = () => `\n--- stdout ---\n${stdout}--- stderr ---\n${stderr}`;

  const waitForLine = (match: RegExp, timeoutMs = 10_000): Promise<string> => {
    let waiter: () => void = () => {};
    const found = new Promise<string>((resolve, reject) => {
      waiter = () => {
        const line = lines.find((l) => match.test(l));
        if (line !== undefined) resolve(line);
        else if (exit !== undefined)
          reject(
            new Error(
              `${command} exited (${exit.code ?? exit.signal}) before printing ${match}${output()}`,
            ),
          );
      };
      waiters.add(waiter);
      waiter();
    });
    return withDeadline(
      found,
      timeoutMs,
      () => `${command}: no line matching ${match} within ${timeoutMs} ms${output()}`,
    ).finally(() => waiters.delete(waiter));
  };

  const kill = () => {
    if (exit === undefined) proc.kill("SIGKILL");
  };

  const finished = async (timeoutMs = 20_000): Promise<CliExit> => {
    try {
      return await withDeadline(
        closed,
        timeoutMs,
        () => `${command} still running after ${timeoutMs} ms: killed${output()}`,
      );
    } catch (error) {
      kill();
      throw error;
    }
  };

  return { command, lines, waitForLine, finished, kill };
};

/** Runs `tool args` to its exit (killed after `timeoutMs`: the tool's own -W should end it). */
export const runCliClient = (
  tool: MosquittoTool,
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<CliExit & { readonly command: string }> => {
  const client = startCliClient(tool, args);
  return client.finished(timeoutMs).then((run) => ({ ...run, command: client.command }));
};

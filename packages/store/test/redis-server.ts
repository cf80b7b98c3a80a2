import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A redis-server a test file started for itself. */
export interface TestRedis {
  /** Its Unix socket: what `connectRedis` takes instead of a URL. */
  readonly path: string;
  stop(): Promise<void>;
}

const READY = /ready to accept connections/i;

/**
 * Starts a redis-server of the test's own on a Unix socket in a temp dir: no TCP port to
 * race other tests for, and never the machine's shared Redis. (The cross-service
 * harness's `startRedis` lives in the test workspace, which depends on this package.)
 * Ready when the server logs that it accepts connections; killed if the test process
 * exits first.
 */
export const startTestRedis = async (timeoutMs = 15_000): Promise<TestRedis> => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-store-"));
  const path = join(dir, "redis.sock");
  const args = ["--port", "0", "--unixsocket", path, "--save", "", "--appendonly", "no"];
  const child = spawn("redis-server", [...args, "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const kill = () => child.kill("SIGKILL");
  process.on("exit", kill);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server not ready within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      child.once("error", (e) =>
        reject(new Error(`cannot run redis-server (apt-get install redis-server): ${e.message}`)),
      );
      void exited.then(() =>
        reject(new Error(`redis-server exited before it was ready:\n${output}`)),
      );
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (READY.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    kill();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  child.stdout.removeAllListeners("data");
  child.stdout.resume();
  return {
    path,
    stop: async () => {
      process.off("exit", kill);
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { delimiter, join, resolve } from "node:path";
import { Log, type Logger, messageOf, StartFailed } from "@umbra/runtime";
import { Effect, Layer, type Scope } from "effect";

/**
 * The embedded default of `umbra all` (SPEC §4): when NATS_URL / REDIS_URL are not set
 * and nothing answers at the default address, start `nats-server` / `redis-server`
 * as children (Redis appending to `.umbra/redis`, so a restart keeps every shadow; NATS
 * with JetStream in `.umbra/nats`, where the API keeps application events) and
 * stop them on exit. Otherwise say exactly what is missing.
 */

const answers = (host: string, port: number, timeoutMs = 500): Promise<boolean> =>
  new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });

const findBinary = (name: string): string | undefined => {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
};

interface Embedded {
  readonly name: string;
  readonly envVar: "NATS_URL" | "REDIS_URL";
  readonly binary: string;
  readonly debianPackage: string;
  readonly port: number;
  readonly args: (dataDir: string) => string[];
}

const NATS: Embedded = {
  name: "NATS",
  envVar: "NATS_URL",
  binary: "nats-server",
  debianPackage: "nats-server",
  port: 4222,
  // JetStream keeps the API's application events (Last-Event-ID resume), under the data dir.
  args: (dataDir) => ["-a", "127.0.0.1", "-p", "4222", "-js", "-sd", dataDir],
};

const REDIS: Embedded = {
  name: "Redis",
  envVar: "REDIS_URL",
  binary: "redis-server",
  debianPackage: "redis-server",
  port: 6379,
  args: (dataDir) => [
    "--port",
    "6379",
    "--bind",
    "127.0.0.1",
    "--dir",
    dataDir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--save",
    "",
  ],
};

const waitFor = async (child: ChildProcess, port: number, deadlineMs: number): Promise<void> => {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    if (await answers("127.0.0.1", port, 200)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`did not answer on port ${port} within ${deadlineMs} ms`);
};

const stopChild = (child: ChildProcess): Promise<void> =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill("SIGTERM");
  });

const ensure = (
  server: Embedded,
  dataRoot: string,
  logger: Logger,
): Effect.Effect<void, StartFailed, Scope.Scope> =>
  Effect.gen(function* () {
    if (process.env[server.envVar] !== undefined) return; // explicit: the service connects or says why not
    if (yield* Effect.promise(() => answers("127.0.0.1", server.port))) return;
    const binary = findBinary(server.binary);
    if (binary === undefined)
      return yield* Effect.fail(
        new StartFailed({
          reason:
            `nothing answers at 127.0.0.1:${server.port} and ${server.binary} is not installed: ` +
            `install it (apt-get install ${server.debianPackage}) or point ${server.envVar} at a running ${server.name}`,
        }),
      );
    const dataDir = resolve(dataRoot, server.binary === "redis-server" ? "redis" : "nats");
    mkdirSync(dataDir, { recursive: true });
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          // A process group of its own: Ctrl-C (SIGINT to the terminal's group) must
          // reach only Umbra, which stops the services first and the servers last.
          const child = spawn(binary, server.args(dataDir), {
            cwd: dataDir,
            stdio: ["ignore", "ignore", "ignore"],
            detached: true,
          });
          const orphanGuard = () => child.kill("SIGTERM");
          process.once("exit", orphanGuard);
          child.once("exit", () => process.removeListener("exit", orphanGuard));
          try {
            await waitFor(child, server.port, 10_000);
          } catch (e) {
            child.kill("SIGKILL");
            throw e;
          }
          logger.info(
            { server: server.binary, port: server.port, dataDir, pid: child.pid },
            `started an embedded ${server.name}`,
          );
          return child;
        },
        catch: (e) =>
          new StartFailed({ reason: `could not start ${server.binary}: ${messageOf(e)}` }),
      }),
      (child) => Effect.promise(() => stopChild(child)),
    );
  });

/** The embedded servers `umbra all` needs, for the life of the process (stopped last). */
export const embeddedServers = (dataRoot: string) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const logger = (yield* Log).child({ service: "umbra" });
      yield* ensure(NATS, dataRoot, logger);
      yield* ensure(REDIS, dataRoot, logger);
    }),
  );

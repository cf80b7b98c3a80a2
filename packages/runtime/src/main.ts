import { Cause, Effect, Exit, type Fiber, Layer, Runtime } from "effect";
import { shutdownTimeoutMs } from "./config.js";
import { renderFailure } from "./errors.js";
import { Log, type Logger, LogLive } from "./logger.js";
import { ProcessName } from "./resources.js";

/**
 * What the process knows about its own shutdown, once its configuration is read: the
 * deadline (SHUTDOWN_TIMEOUT_MS) and the logger. Before that, the default deadline.
 */
interface Shutdown {
  deadlineMs: number;
  logger: Logger | undefined;
}

/**
 * Effect's run-main (`Runtime.makeRunMain`, what `@effect/platform-node`'s
 * `NodeRuntime.runMain` is made of) with Node's signals: SIGINT/SIGTERM interrupt the
 * main fiber, so every Layer releases in reverse order (listeners close, mailboxes
 * drain, NATS drains, Redis quits); a release that hangs on a server that is gone is cut
 * at the deadline (exit 1); a second signal exits at once (130).
 */
const nodeRunMain = (name: string, shutdown: Shutdown) =>
  Runtime.makeRunMain(({ fiber, teardown }) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      // A second signal: the operator wants out now.
      if (stopping) process.exit(130);
      stopping = true;
      const { deadlineMs, logger } = shutdown;
      logger?.info({ signal, deadlineMs }, "stopping");
      // Unref'd: it only ends a process something else keeps alive.
      setTimeout(() => {
        const line = `${name}: shutdown did not finish within ${deadlineMs} ms (SHUTDOWN_TIMEOUT_MS); exiting`;
        if (logger !== undefined) logger.error({ deadlineMs }, line);
        else console.error(line);
        process.exit(1);
      }, deadlineMs).unref();
      fiber.interruptUnsafe();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    (fiber as Fiber.Fiber<unknown, unknown>).addObserver((exit) => {
      if (!stopping) {
        process.removeListener("SIGINT", stop);
        process.removeListener("SIGTERM", stop);
      }
      // Everything was released: a client still reconnecting to a server that is gone
      // must not keep the process alive, hence exit rather than wait for the loop.
      teardown(exit, (code) => process.exit(code));
    });
  });

/**
 * Runs one process: `layer` (the services it hosts, with the connections they share)
 * is built in order, serves until SIGINT/SIGTERM, then is released in reverse (exit 0).
 * A start failure is one line on stderr, `<name>: <what went wrong>` (exit 1): Effect's
 * error report is off, `renderFailure` says it instead.
 */
export const runService = <Out, E>(
  name: string,
  processName: string,
  layer: Layer.Layer<Out, E, Log>,
): void => {
  const shutdown: Shutdown = { deadlineMs: 30_000, logger: undefined };
  const program = Effect.gen(function* () {
    shutdown.logger = (yield* Log).child({ service: "umbra" });
    shutdown.deadlineMs = yield* shutdownTimeoutMs;
    return yield* Layer.launch(layer);
  }).pipe(Effect.provide(LogLive), Effect.provideService(ProcessName, processName));
  nodeRunMain(name, shutdown)(program, {
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
        shutdown.logger?.info("stopped");
        return onExit(0);
      }
      const line = `${name}: ${renderFailure(exit.cause)}`;
      shutdown.logger?.fatal(line);
      console.error(line);
      onExit(1);
    },
  });
};

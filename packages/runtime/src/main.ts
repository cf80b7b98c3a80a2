import { Cause, Effect, Exit, Fiber, type Scope } from "effect";
import { shutdownTimeoutMs } from "./config.js";
import type { Logger } from "./logger.js";

/** A failure to start that deserves one clear line, not a stack trace. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** Turns what stopped a service into one readable line. */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause);
  const text =
    typeof error === "object" && error !== null && typeof (error as Error).message === "string"
      ? (error as Error).message
      : String(error);
  // Effect's ConfigError: "<what was expected>\n  at ["VARIABLE"]" → "VARIABLE: <what>".
  const at = /^(?:\w*Error\()?([\s\S]*?)\s*\n\s*at \["([^"]+)"\]\)?\s*$/.exec(text);
  if (at !== null) return `bad configuration: ${at[2]}: ${(at[1] as string).trim()}`;
  return text.replace(/\s*\n\s*/g, " ");
};

/**
 * Runs a service program: it acquires its resources (in `Scope`) and starts; then the
 * process serves until SIGINT/SIGTERM, when the scope closes and every resource is
 * released in reverse order (servers stop accepting, mailboxes drain, connections
 * flush and close). A start failure prints one line and exits 1.
 */
export const runMain = (
  name: string,
  program: Effect.Effect<void, unknown, Scope.Scope>,
  logger?: Logger,
): void => {
  const timeout = Effect.runSyncExit(shutdownTimeoutMs);
  if (Exit.isFailure(timeout)) {
    console.error(`${name}: ${describeFailure(timeout.cause)}`);
    process.exitCode = 1;
    return;
  }
  const deadlineMs = timeout.value;
  const fiber = Effect.runFork(Effect.scoped(Effect.andThen(program, Effect.never)));
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal: the operator wants out now.
      process.exit(130);
    }
    stopping = true;
    logger?.info({ signal, deadlineMs }, "stopping");
    // Releases wait on the bus and the store (drains, QUIT): with either gone they may
    // never finish. Unref'd: it only ends a process something else keeps alive.
    setTimeout(() => {
      const line = `${name}: shutdown did not finish within ${deadlineMs} ms (SHUTDOWN_TIMEOUT_MS); exiting`;
      if (logger !== undefined) logger.error({ deadlineMs }, line);
      else console.error(line);
      process.exit(1);
    }, deadlineMs).unref();
    Effect.runFork(Fiber.interrupt(fiber));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  fiber.addObserver((exit) => {
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
      logger?.info("stopped");
      process.exitCode = 0;
      // Everything was released; a client still reconnecting to a server that is gone
      // must not keep the process alive.
      setTimeout(() => process.exit(0), 500).unref();
      return;
    }
    const line = `${name}: ${describeFailure(exit.cause)}`;
    if (logger !== undefined) logger.fatal(line);
    console.error(line);
    process.exitCode = 1;
    // Pending handles (a reconnecting client) must not keep a failed process alive.
    setTimeout(() => process.exit(1), 200).unref();
  });
};

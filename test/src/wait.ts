import { connect } from "node:net";
import { setTimeout as pause } from "node:timers/promises";

/** Rejects with `message()` if `promise` has not settled within `ms`; clears its timer either way. */
export const withDeadline = <T>(
  promise: Promise<T>,
  ms: number,
  message: () => string,
): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
};

export interface PollOptions {
  readonly timeoutMs: number;
  /** Said in the error when the deadline passes. */
  readonly what: string;
  /** Time between two checks. */
  readonly intervalMs?: number;
  /** Called before each check: throw to stop waiting (e.g. the process died). */
  readonly giveUp?: () => void;
}

/**
 * Checks `condition` until it holds or the deadline passes. For conditions that raise no
 * event of their own (a port that starts answering, a port that stops answering).
 */
export const pollUntil = async (
  condition: () => Promise<boolean> | boolean,
  { timeoutMs, what, intervalMs = 25, giveUp }: PollOptions,
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    giveUp?.();
    if (await condition()) return;
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await pause(intervalMs);
  }
};

export interface ExchangeOptions {
  readonly host?: string;
  readonly port: number;
  /** Written once connected, if given. */
  readonly send?: Buffer | string;
  /** True once `received` holds the whole answer. */
  readonly complete: (received: Buffer) => boolean;
  readonly timeoutMs?: number;
}

/** Connects, optionally writes, and reads until `complete` says the answer is in. */
export const exchange = ({
  host = "127.0.0.1",
  port,
  send,
  complete,
  timeoutMs = 1000,
}: ExchangeOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)),
    );
    socket.once("connect", () => {
      if (send !== undefined) socket.write(send);
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (complete(received)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.once("error", reject);
    socket.once("close", () =>
      reject(new Error(`${host}:${port} closed the connection before answering`)),
    );
  });

/** True when a TCP connection to the port is refused: nothing listens there. */
export const connectionRefused = (port: number, host = "127.0.0.1"): Promise<boolean> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000, () => socket.destroy(new Error("connect timed out")));
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED") resolve(true);
      else reject(error);
    });
  });

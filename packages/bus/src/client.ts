import {
  createInbox,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import { type Correlated, Correlator, DEFAULT_MAX_PENDING } from "./correlator.js";
import {
  type CommandAnswer,
  type CommandOp,
  decodeCommandAnswer,
  encodeCommand,
  type FunctionCommand,
} from "./frames/index.js";
import { partitionOf } from "./partition.js";
import { commandSubject } from "./subjects.js";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * No shard answered a command: nobody serves the partition (no responders), the
 * answer did not come in time, or the connection is closed. The command may or may
 * not have been applied (a timeout can follow a write).
 */
export class ClusterUnavailableError extends Error {
  override readonly name = "ClusterUnavailableError";
}

/**
 * The version a cloud caller expects the shadow at (If-Match). `epoch` pins which run
 * of versions it means: the number alone repeats after an Alibaba reset (see
 * `ShadowDocument.epoch`); without it the number is judged alone.
 */
export interface ExpectedVersion {
  readonly version: number;
  readonly epoch?: number;
}

/** `expected`, when given, goes in as `"version"` (and `"epoch"`). */
const withVersion = (
  body: Record<string, unknown>,
  expected: number | ExpectedVersion | undefined,
): Uint8Array => {
  if (expected === undefined) return encoder.encode(JSON.stringify(body));
  if (typeof expected === "number")
    return encoder.encode(JSON.stringify({ ...body, version: expected }));
  const { version, epoch } = expected;
  return encoder.encode(
    JSON.stringify(epoch === undefined ? { ...body, version } : { ...body, version, epoch }),
  );
};

interface Waiting extends Correlated {
  sentAt: number;
  resendAt: number;
  readonly subject: string;
  readonly frame: Uint8Array;
  readonly deviceKey: string;
  readonly resolve: (data: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

/** How soon a command nobody took (no shard serves its partition) is sent again. */
const NO_RESPONDERS_RETRY_MS = 100;
const SWEEP_MS = 50;

const fail = (waiting: Waiting, why: string): void =>
  waiting.reject(new ClusterUnavailableError(`no shard answered for ${waiting.deviceKey}: ${why}`));

/**
 * A cloud-side caller of the shard actors (the API service, the CLI, tests): sends a
 * command to the device's partition and waits for the actor's answer.
 *
 * Answers come back on one inbox subscription per client (`{inbox}.{n}`) rather than
 * through `request()`, which builds two errors with stack traces per call (measured:
 * 9 % of a busy API process). A command the server reports as having no responders —
 * no shard serves the partition, e.g. between a crash and the takeover — was not
 * delivered, so it is sent again every 100 ms until the deadline; a command that got
 * no answer in time may or may not have been applied and is not repeated.
 */
export class ShadowClient {
  readonly #nc: NatsConnection;
  readonly #partitions: number;
  readonly #inbox = createInbox();
  readonly #waiting: Correlator<Waiting>;
  #subscription: Subscription | undefined;

  /** `maxWaiting`: commands waiting at most; one more fails at once (the API answers 503). */
  constructor(
    nc: NatsConnection,
    partitions: number,
    timeoutMs = 5_000,
    maxWaiting = DEFAULT_MAX_PENDING,
  ) {
    this.#nc = nc;
    this.#partitions = partitions;
    this.#waiting = new Correlator<Waiting>({
      deadlineMs: timeoutMs,
      maxPending: maxWaiting,
      sweepMs: SWEEP_MS,
      resend: (n, waiting) => this.#publish(n, waiting),
      expired: (_, waiting) =>
        fail(waiting, waiting.resendAt > 0 ? "no shard serves its partition" : "timed out"),
      swept: () => {
        if (this.#nc.isClosed()) this.close();
      },
    });
  }

  /** Stops listening; commands still waiting fail. (Closing the connection does too.) */
  close(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#waiting.giveUpAll((_, waiting) => fail(waiting, "the client was closed"));
  }

  /**
   * `state` as in an update request: `{ desired?: {...}, reported?: {...} }`. `shadow`
   * names a named shadow of the device (`undefined`: its classic shadow), here and in
   * `get` and `delete`.
   */
  update(
    deviceKey: string,
    state: object,
    expected?: number | ExpectedVersion,
    shadow?: string,
  ): Promise<CommandAnswer> {
    return this.#send("update", deviceKey, withVersion({ state }, expected), shadow);
  }

  get(deviceKey: string, shadow?: string): Promise<CommandAnswer> {
    return this.#send("get", deviceKey, EMPTY, shadow);
  }

  /** Deletes the shadow; the reply's version is the deleted shadow's next version. */
  delete(
    deviceKey: string,
    expected?: number | ExpectedVersion,
    shadow?: string,
  ): Promise<CommandAnswer> {
    return this.#send(
      "delete",
      deviceKey,
      expected === undefined ? EMPTY : withVersion({}, expected),
      shadow,
    );
  }

  /** A digital twin JSON Patch (seed 004): an array of add / replace / remove operations. */
  twinPatch(
    deviceKey: string,
    patch: unknown,
    expected?: number | ExpectedVersion,
  ): Promise<CommandAnswer> {
    return this.#send("twin", deviceKey, withVersion({ patch }, expected));
  }

  /**
   * Queues a function call (seed 001) or checks calls' deadlines and retention. A queued
   * call is the last of the reply document's `functions`.
   */
  functionCall(deviceKey: string, command: FunctionCommand): Promise<CommandAnswer> {
    return this.#send("function", deviceKey, encoder.encode(JSON.stringify(command)));
  }

  /** Sends one command; a missing answer is a `ClusterUnavailableError`. */
  async #send(
    op: CommandOp,
    deviceKey: string,
    payload: Uint8Array,
    shadow?: string,
  ): Promise<CommandAnswer> {
    // A cloud caller's command has no dialect: the dialect is how a device spoke.
    const frame = encodeCommand({ op, device: deviceKey, source: "cloud", shadow }, payload);
    const subject = commandSubject(partitionOf(deviceKey, this.#partitions));
    const data = await new Promise<Uint8Array>((resolve, reject) => {
      const waiting: Waiting = {
        sentAt: 0,
        resendAt: 0,
        subject,
        frame,
        deviceKey,
        resolve,
        reject,
      };
      if (this.#nc.isClosed()) {
        fail(waiting, "connection closed");
        return;
      }
      const n = this.#waiting.nextId();
      if (!this.#waiting.add(n, waiting)) {
        fail(waiting, "too many commands waiting");
        return;
      }
      this.#listen();
      this.#publish(n, waiting);
    });
    return decodeCommandAnswer(data);
  }

  #publish(n: number, waiting: Waiting): void {
    try {
      this.#nc.publish(waiting.subject, waiting.frame, { reply: `${this.#inbox}.${n}` });
    } catch (error) {
      // Closed or draining, or a frame over the server's max_payload: not sent. (Also
      // from the sweep's timer, where a throw would end the process.)
      this.#waiting.settle(n);
      fail(waiting, (error as Error).message);
    }
  }

  #listen(): void {
    if (this.#subscription !== undefined) return;
    this.#subscription = this.#nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, msg) => {
        if (error === null) this.#answer(msg);
      },
    });
  }

  #answer(msg: Msg): void {
    const n = Number(msg.subject.slice(this.#inbox.length + 1));
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      // No responders: nobody took it, so it is safe to send again shortly.
      this.#waiting.resendAt(n, Date.now() + NO_RESPONDERS_RETRY_MS);
      return;
    }
    // Unknown: timed out already.
    this.#waiting.settle(n)?.resolve(msg.data);
  }
}

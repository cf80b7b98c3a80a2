import { readAwsRequest } from "@umbra/dialects";
import type { CounterCell } from "@umbra/runtime";

/** AWS's bound on one connection's shadow requests awaiting an answer (DIALECTS.md §1.4). */
export const DEFAULT_AWS_MAX_INFLIGHT = 10;

/**
 * AWS shadow requests each session sent to the shard and has no answer to yet
 * (DIALECTS.md §1.3/§1.4: past 10 on one connection AWS answers 429). An answer is the
 * request's `…/accepted` or `…/rejected` coming back on the edge's inbox; every AWS
 * request gets exactly one. An entry also ends at its deadline, so an answer that is
 * lost (a shard that dropped the command, a reply service that restarted) cannot block
 * a device for good. Answers are not matched to their requests (that would mean
 * reading every answer's clientToken): the oldest entry ends, which is exact while
 * answers come in order and errs on the device's side (fewer counted) when they don't.
 *
 * Bounded: at most `max` deadlines per session, one entry per session that sent an AWS
 * request, removed when the session closes.
 */
export interface AwsWindowOptions {
  /** Unanswered requests one session may have (`MQTT_AWS_MAX_INFLIGHT`). */
  readonly max: number;
  /** How long a request counts without an answer (the edge's command deadline). */
  readonly deadlineMs: number;
  readonly now: () => number;
  /** Counts every request refused with 429. */
  readonly throttled: CounterCell;
}

export class AwsRequestWindow {
  readonly #max: number;
  readonly #deadlineMs: number;
  readonly #throttled: CounterCell;
  /** The clock of deadlines and of the 429's timestamp. */
  readonly now: () => number;
  /** Per session id: the deadlines of its unanswered requests, oldest first. */
  readonly #open = new Map<string, number[]>();

  constructor(options: AwsWindowOptions) {
    const { max } = options;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`AWS in-flight bound must be a positive integer, got ${max}`);
    this.#max = max;
    this.#deadlineMs = options.deadlineMs;
    this.#throttled = options.throttled;
    this.now = options.now;
  }

  /** Counts a request about to be sent; false (nothing counted) when the window is full. */
  tryOpen(sessionId: string): boolean {
    const now = this.now();
    let deadlines = this.#open.get(sessionId);
    if (deadlines === undefined) {
      deadlines = [];
      this.#open.set(sessionId, deadlines);
    }
    let expired = 0;
    while (expired < deadlines.length && (deadlines[expired] as number) <= now) expired++;
    if (expired > 0) deadlines.splice(0, expired);
    if (deadlines.length >= this.#max) {
      this.#throttled.value++;
      return false;
    }
    deadlines.push(now + this.#deadlineMs);
    return true;
  }

  /** An answer to one of the session's requests came back. */
  answered(sessionId: string): void {
    this.#open.get(sessionId)?.shift();
  }

  /** The session closed: nothing of it is kept. */
  forget(sessionId: string): void {
    this.#open.delete(sessionId);
  }

  /** Requests counted for the session (expired ones included until its next request). */
  inFlight(sessionId: string): number {
    return this.#open.get(sessionId)?.length ?? 0;
  }

  /** Sessions with an entry: for tests of the bound. */
  get sessions(): number {
    return this.#open.size;
  }
}

/** `…/accepted` and `…/rejected`: the answers that end an AWS request. */
export const isAwsAnswer = (topic: string): boolean =>
  topic.startsWith("$aws/") && (topic.endsWith("/accepted") || topic.endsWith("/rejected"));

/**
 * The 429 an AWS device gets for a request past its window, as AWS words it
 * (`P/{op}/rejected`, timestamp in seconds), echoing the request's clientToken so the
 * SDK can complete the request. Read only on this path: the hot path forwards the
 * payload unread.
 */
export const awsTooManyRequestsBody = (
  op: "update" | "get" | "delete",
  payload: Uint8Array,
  nowMs: number,
): string => {
  const read = readAwsRequest(op, payload);
  const clientToken = read.ok ? read.value.clientToken : read.error.clientToken;
  return JSON.stringify({
    code: 429,
    message: "Too Many Requests",
    timestamp: Math.floor(nowMs / 1000),
    ...(clientToken === undefined ? {} : { clientToken }),
  });
};

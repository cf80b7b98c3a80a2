/**
 * A request waiting for its answer. The correlator stamps both times; a user's entry
 * extends this with what it needs to send again and to settle, so that a request costs
 * one object (the edge makes one per QoS 1 publish).
 */
export interface Correlated {
  /** When it was first sent, by the correlator's clock. */
  sentAt: number;
  /** When to send it again; 0: only if `resendAt` asks. */
  resendAt: number;
}

export interface CorrelatorOptions<E extends Correlated> {
  /** A request unanswered this long after its first send is given up (`expired`). */
  readonly deadlineMs: number;
  /** Sent again this long after each send while unanswered; absent: only when asked. */
  readonly resendAfterMs?: number | undefined;
  /** Requests waiting at most: `add` refuses one more. */
  readonly maxPending: number;
  /** How often deadlines and resends are looked at. */
  readonly sweepMs: number;
  readonly now?: (() => number) | undefined;
  /** Ids are `idBase + n mod idSpace`, n counting up from a random start. */
  readonly idSpace?: number | undefined;
  readonly idBase?: number | undefined;
  /** Its resend time came. Runs in a timer: it must not throw. */
  readonly resend: (id: number, entry: E) => void;
  /** Its deadline passed; it is no longer pending. Runs in a timer: it must not throw. */
  readonly expired: (id: number, entry: E, waitedMs: number) => void;
  /** After each sweep (a client checks its connection there). Must not throw. */
  readonly swept?: (() => void) | undefined;
}

/** Most requests a correlator holds unless told otherwise. */
export const DEFAULT_MAX_PENDING = 100_000;

/**
 * The pending requests of one process's requester (the edge's QoS 1 commands, a cloud
 * client's commands, gateway calls), like nats.js's single mux subscription: answers
 * come back on one subject and are settled by id. Entries are kept in send order, so a
 * sweep stops at the first request that is not due yet — unless some resend time was
 * moved by `resendAt`, which breaks that order. The sweep timer runs only while
 * something waits.
 */
export class Correlator<E extends Correlated> {
  readonly #pending = new Map<number, E>();
  readonly #options: CorrelatorOptions<E>;
  readonly #now: () => number;
  readonly #idSpace: number;
  readonly #idBase: number;
  /** Wait after which an entry sent once may be due: the sweep stops at a younger one. */
  readonly #young: number;
  /** False once a resend time was set out of send order: every sweep walks all. */
  #inOrder = true;
  #next: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: CorrelatorOptions<E>) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#idSpace = options.idSpace ?? 0x1_0000_0000;
    this.#idBase = options.idBase ?? 0;
    this.#young = Math.min(options.resendAfterMs ?? Number.POSITIVE_INFINITY, options.deadlineMs);
    // At random: shards remember an edge's ids for a while, a restarted edge must not repeat them.
    this.#next = Math.floor(Math.random() * this.#idSpace);
  }

  /** Requests waiting now. */
  get size(): number {
    return this.#pending.size;
  }

  /** A fresh id (unique among the last `idSpace` ids). */
  nextId(): number {
    this.#next = (this.#next + 1) % this.#idSpace;
    return this.#idBase + this.#next;
  }

  /** Holds `entry` under `id` from now on; false (nothing held) when the bound is reached. */
  add(id: number, entry: E): boolean {
    if (this.#pending.size >= this.#options.maxPending) return false;
    const now = this.#now();
    entry.sentAt = now;
    const after = this.#options.resendAfterMs;
    entry.resendAt = after === undefined ? 0 : now + after;
    this.#pending.set(id, entry);
    if (this.#timer === undefined && !this.#stopped) {
      this.#timer = setInterval(this.sweep, this.#options.sweepMs);
      this.#timer.unref();
    }
    return true;
  }

  /** The entry waiting under `id`, still waiting. */
  get(id: number): E | undefined {
    return this.#pending.get(id);
  }

  /** Ends the wait of `id`: its entry, or undefined if it was not waiting (any more). */
  settle(id: number): E | undefined {
    const entry = this.#pending.get(id);
    if (entry !== undefined) this.#pending.delete(id);
    return entry;
  }

  /** Sends `id` again at `at` (at most once, unless `resendAfterMs` repeats it). */
  resendAt(id: number, at: number): void {
    const entry = this.#pending.get(id);
    if (entry === undefined) return;
    entry.resendAt = at;
    this.#inOrder = false;
  }

  /** No more sweeps: nothing is resent or expired until `giveUpAll`. */
  stopSweeping(): void {
    this.#stopped = true;
    this.#cancelTimer();
  }

  /** Ends every wait: `each` is told of every entry, which is no longer pending. */
  giveUpAll(each: (id: number, entry: E) => void): void {
    this.#cancelTimer();
    const entries = [...this.#pending];
    this.#pending.clear();
    for (const [id, entry] of entries) each(id, entry);
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Expires and resends what is due (the timer's job; tests call it with their clock). */
  readonly sweep = (): void => {
    if (this.#pending.size === 0) {
      this.#cancelTimer();
      return;
    }
    const now = this.#now();
    const { deadlineMs, resendAfterMs } = this.#options;
    for (const [id, entry] of this.#pending) {
      const waited = now - entry.sentAt;
      if (waited >= deadlineMs) {
        this.#pending.delete(id);
        this.#options.expired(id, entry, waited);
      } else if (entry.resendAt !== 0 && now >= entry.resendAt) {
        entry.resendAt = resendAfterMs === undefined ? 0 : now + resendAfterMs;
        this.#options.resend(id, entry);
      } else if (this.#inOrder && waited < this.#young) break;
    }
    this.#options.swept?.();
  };
}

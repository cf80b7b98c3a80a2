import { type CommandHeader, type CommandOutbox, encodeCommand } from "@umbra/bus";
import type { LimitedLog } from "@umbra/runtime";

/** A QoS 1 command's header: it carries its correlation id. */
export type QosOneHeader = CommandHeader & { readonly corr: number };

/** A QoS 1 command sent and not yet acknowledged by a shard. */
interface Pending {
  readonly subject: string;
  readonly header: QosOneHeader;
  readonly payload: Uint8Array;
  readonly firstSentAt: number;
  lastSentAt: number;
  readonly resolve: (processed: boolean) => void;
}

export interface RetryTiming {
  /** A QoS 1 command not acknowledged after this long is sent again, marked DUP. */
  readonly retryAfterMs: number;
  /** …and given up after this long: no PUBACK, the device retransmits. */
  readonly deadlineMs: number;
}

/**
 * QoS 1 commands waiting for a shard's ack, by correlation id: acked ones resolve true,
 * those not acked in time are sent again marked DUP, and given up (false) at the deadline.
 */
export class PendingCommands {
  readonly #outbox: CommandOutbox;
  /** Where shards send the acks: the edge's inbox. */
  readonly #inbox: string;
  readonly #log: LimitedLog;
  readonly #timing: RetryTiming;
  readonly #now: () => number;
  /** In send order: the sweep stops at the first command still young. */
  readonly #pending = new Map<number, Pending>();
  #sweep: NodeJS.Timeout | undefined;
  /**
   * Correlation ids start at random: shards remember them (with the packet id) to spot a
   * re-sent command, so a restarted edge with the same EDGE_ID must not reuse them.
   */
  #corr = Math.floor(Math.random() * 0x1_0000_0000);

  constructor(
    outbox: CommandOutbox,
    inbox: string,
    log: LimitedLog,
    timing: RetryTiming,
    now: () => number,
  ) {
    this.#outbox = outbox;
    this.#inbox = inbox;
    this.#log = log;
    this.#timing = timing;
    this.#now = now;
  }

  start(): void {
    const every = Math.max(50, Math.min(this.#timing.retryAfterMs, 1_000) / 2);
    this.#sweep = setInterval(() => this.#retry(), every);
    this.#sweep.unref();
  }

  /** The id for the next command; goes into its header before `send`. */
  nextCorr(): number {
    this.#corr = (this.#corr + 1) >>> 0;
    return this.#corr;
  }

  /** Sends a command whose header carries `nextCorr()`; settles on its ack or deadline. */
  send(subject: string, header: QosOneHeader, payload: Uint8Array): Promise<boolean> {
    const frame = encodeCommand(header, payload);
    const now = this.#now();
    return new Promise<boolean>((resolve) => {
      this.#pending.set(header.corr, {
        subject,
        header,
        payload,
        firstSentAt: now,
        lastSentAt: now,
        resolve,
      });
      this.#outbox.publish(subject, frame, this.#inbox);
    });
  }

  /** Acks from a shard. An unknown id was given up on already, or is a repeated ack. */
  acknowledge(corrs: readonly number[]): void {
    for (const corr of corrs) {
      const pending = this.#pending.get(corr);
      if (pending === undefined) continue;
      this.#pending.delete(corr);
      pending.resolve(true);
    }
  }

  stopSweeping(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
  }

  /** Gives up on every command still waiting (no PUBACK). */
  giveUpAll(): void {
    for (const pending of this.#pending.values()) pending.resolve(false);
    this.#pending.clear();
  }

  /**
   * Commands not acknowledged in time are sent again marked DUP (the shard applies a
   * command at most once), and given up at the deadline. The map is in send order, so
   * the walk stops at the first command that is still young.
   */
  #retry(): void {
    const now = this.#now();
    const { retryAfterMs, deadlineMs } = this.#timing;
    for (const [corr, pending] of this.#pending) {
      if (now - pending.firstSentAt >= deadlineMs) {
        this.#pending.delete(corr);
        this.#log.warn(
          {
            device: pending.header.device,
            corr: pending.header.corr,
            waitedMs: now - pending.firstSentAt,
          },
          "no shard answered a QoS 1 command in time; no PUBACK",
        );
        pending.resolve(false);
        continue;
      }
      if (now - pending.lastSentAt < retryAfterMs) {
        if (now - pending.firstSentAt < retryAfterMs) break;
        continue;
      }
      pending.lastSentAt = now;
      const header: CommandHeader = { ...pending.header, dup: true };
      this.#outbox.publish(pending.subject, encodeCommand(header, pending.payload), this.#inbox);
    }
  }
}

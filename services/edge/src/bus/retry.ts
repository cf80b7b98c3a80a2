import {
  type CommandHeader,
  type CommandOutbox,
  type Correlated,
  Correlator,
  DEFAULT_MAX_PENDING,
  encodeCommand,
} from "@umbra/bus";
import type { LimitedLog } from "@umbra/runtime";

/** A QoS 1 command's header: it carries its correlation id. */
export type QosOneHeader = CommandHeader & { readonly corr: number };

/** A QoS 1 command sent and not yet acknowledged by a shard: one object per publish. */
interface Pending extends Correlated {
  sentAt: number;
  resendAt: number;
  readonly subject: string;
  readonly header: QosOneHeader;
  readonly payload: Uint8Array;
  readonly resolve: (processed: boolean) => void;
}

export interface RetryTiming {
  /** A QoS 1 command not acknowledged after this long is sent again, marked DUP. */
  readonly retryAfterMs: number;
  /** …and given up after this long: no PUBACK, the device retransmits. */
  readonly deadlineMs: number;
  /** QoS 1 commands waiting at most: past it a publish gets no PUBACK (the device re-sends). */
  readonly maxPending?: number | undefined;
}

/**
 * QoS 1 commands waiting for a shard's ack, by correlation id: acked ones resolve true,
 * those not acked in time are sent again marked DUP (the shard applies a command at
 * most once), and given up (false) at the deadline.
 */
export class PendingCommands {
  readonly #outbox: CommandOutbox;
  /** Where shards send the acks: the edge's inbox. */
  readonly #inbox: string;
  readonly #log: LimitedLog;
  /**
   * Correlation ids start at random: shards remember them (with the packet id) to spot a
   * re-sent command, so a restarted edge with the same EDGE_ID must not reuse them.
   */
  readonly #pending: Correlator<Pending>;

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
    this.#pending = new Correlator<Pending>({
      deadlineMs: timing.deadlineMs,
      resendAfterMs: timing.retryAfterMs,
      maxPending: timing.maxPending ?? DEFAULT_MAX_PENDING,
      sweepMs: Math.max(50, Math.min(timing.retryAfterMs, 1_000) / 2),
      now,
      resend: (_, pending) => {
        const header: CommandHeader = { ...pending.header, dup: true };
        this.#outbox.publish(pending.subject, encodeCommand(header, pending.payload), this.#inbox);
      },
      expired: (corr, pending, waitedMs) => {
        this.#log.warn(
          { device: pending.header.device, corr, waitedMs },
          "no shard answered a QoS 1 command in time; no PUBACK",
        );
        pending.resolve(false);
      },
    });
  }

  /** The id for the next command; goes into its header before `send`. */
  nextCorr(): number {
    return this.#pending.nextId();
  }

  /** Sends a command whose header carries `nextCorr()`; settles on its ack or deadline. */
  send(subject: string, header: QosOneHeader, payload: Uint8Array): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const pending: Pending = { sentAt: 0, resendAt: 0, subject, header, payload, resolve };
      if (!this.#pending.add(header.corr, pending)) {
        this.#log.warn(
          { device: header.device, waiting: this.#pending.size },
          "too many QoS 1 commands waiting; no PUBACK",
        );
        resolve(false);
        return;
      }
      this.#outbox.publish(subject, encodeCommand(header, payload), this.#inbox);
    });
  }

  /** Acks from a shard. An unknown id was given up on already, or is a repeated ack. */
  acknowledge(corrs: readonly number[]): void {
    for (let i = 0; i < corrs.length; i++) this.#pending.settle(corrs[i] as number)?.resolve(true);
  }

  stopSweeping(): void {
    this.#pending.stopSweeping();
  }

  /** Gives up on every command still waiting (no PUBACK). */
  giveUpAll(): void {
    this.#pending.giveUpAll((_, pending) => pending.resolve(false));
  }
}

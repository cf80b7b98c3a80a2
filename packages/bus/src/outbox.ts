import type { NatsConnection } from "@nats-io/transport-node";
import { encodeCommandBatch } from "./frames/index.js";
import { IGNORE_DROPPED, maxPayloadOf, type OnDropped, publishOrDrop } from "./publish.js";

/**
 * Publishes at the end of the event-loop turn instead of at once. The NATS client
 * writes its buffer to the socket after every microtask checkpoint, which under load
 * means one write syscall per message handled (measured: 10 % of a busy process in
 * socket writes). Collecting a turn's messages first sends them in one write.
 *
 * Nothing here throws: a message the client refuses (over the server's `max_payload`,
 * connection closed) is dropped and `onDropped` told — a throw inside `setImmediate`
 * would end the process. Users merging a turn into batches keep them under
 * `maxPayload` themselves.
 */
export class Outbox {
  readonly #nc: NatsConnection;
  readonly #beforeFlush: (() => void) | undefined;
  readonly #onDropped: OnDropped;
  #subjects: string[] = [];
  #payloads: (Uint8Array | string)[] = [];
  #replies: (string | undefined)[] = [];
  #scheduled = false;

  /**
   * `beforeFlush` runs first at every flush: a user that merges a turn's output into
   * fewer messages publishes them there, so they go out in the same write.
   */
  constructor(nc: NatsConnection, beforeFlush?: () => void, onDropped: OnDropped = IGNORE_DROPPED) {
    this.#nc = nc;
    this.#beforeFlush = beforeFlush;
    this.#onDropped = onDropped;
  }

  /** The largest payload the server takes now (its announced `max_payload`). */
  get maxPayload(): number {
    return maxPayloadOf(this.#nc);
  }

  publish(subject: string, payload: Uint8Array | string, reply?: string): void {
    this.#subjects.push(subject);
    this.#payloads.push(payload);
    this.#replies.push(reply);
    this.schedule();
  }

  /** Makes sure a flush runs at the end of this turn. */
  schedule(): void {
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Hands everything collected to the client now (also called before a drain). */
  readonly flush = (): void => {
    // Still marked scheduled while the hook publishes: its messages join this flush.
    try {
      this.#beforeFlush?.();
    } catch (error) {
      // A bug in a batcher must not end the process: what it had is lost, and told.
      this.#onDropped("failed", "(batch)", 0, error);
    }
    this.#scheduled = false;
    const subjects = this.#subjects;
    const payloads = this.#payloads;
    const replies = this.#replies;
    if (subjects.length === 0) return;
    this.#subjects = [];
    this.#payloads = [];
    this.#replies = [];
    const nc = this.#nc;
    for (let i = 0; i < subjects.length; i++)
      publishOrDrop(
        nc,
        subjects[i] as string,
        payloads[i] as Uint8Array | string,
        replies[i],
        this.#onDropped,
      );
  };
}

/** At most this many bytes per command batch (below NATS's default 1 MiB `max_payload`). */
const MAX_BATCH_BYTES = 512 * 1024;
/** A batch's tag byte, and each frame's length prefix. */
const BATCH_HEADER = 1;
const FRAME_PREFIX = 4;

interface CommandGroup {
  frames: Uint8Array[];
  /** The batch's encoded size: header, prefixes and frames. */
  bytes: number;
  reply: string | undefined;
}

/**
 * Commands collected over one event-loop turn and sent as one message per partition
 * subject: a device with several requests in flight usually has several in one read,
 * and each NATS message costs a publish, a routing and a parse. Order within a subject
 * — and so per device — is kept. The reply subject is the sending edge's inbox (the last
 * one given for the subject in the turn); the shard acks only commands carrying a corr.
 * A batch that would pass the server's `max_payload` (or 512 KiB) is sent before the
 * frame that would tip it over; a frame too large alone is dropped (`onDropped`).
 */
export class CommandOutbox {
  readonly #nc: NatsConnection;
  readonly #onDropped: OnDropped;
  #groups = new Map<string, CommandGroup>();
  #scheduled = false;

  constructor(nc: NatsConnection, onDropped: OnDropped = IGNORE_DROPPED) {
    this.#nc = nc;
    this.#onDropped = onDropped;
  }

  publish(subject: string, frame: Uint8Array, reply?: string): void {
    let group = this.#groups.get(subject);
    if (group === undefined) {
      group = { frames: [], bytes: BATCH_HEADER, reply: undefined };
      this.#groups.set(subject, group);
    } else if (
      group.bytes + FRAME_PREFIX + frame.length >
      Math.min(MAX_BATCH_BYTES, maxPayloadOf(this.#nc))
    ) {
      this.#send(subject, group);
      group.frames = [];
      group.bytes = BATCH_HEADER;
      group.reply = undefined;
    }
    group.frames.push(frame);
    group.bytes += FRAME_PREFIX + frame.length;
    if (reply !== undefined) group.reply = reply;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.#scheduled = false;
    const groups = this.#groups;
    if (groups.size === 0) return;
    this.#groups = new Map();
    for (const [subject, group] of groups) this.#send(subject, group);
  };

  #send(subject: string, group: CommandGroup): void {
    if (group.frames.length === 0) return;
    const payload =
      group.frames.length === 1
        ? (group.frames[0] as Uint8Array)
        : encodeCommandBatch(group.frames);
    publishOrDrop(this.#nc, subject, payload, group.reply, this.#onDropped);
  }
}

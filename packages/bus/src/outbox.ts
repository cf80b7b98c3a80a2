import type { NatsConnection } from "@nats-io/transport-node";
import { encodeCommandBatch } from "./frames.js";

/**
 * Publishes at the end of the event-loop turn instead of at once. The NATS client
 * writes its buffer to the socket after every microtask checkpoint, which under load
 * means one write syscall per message handled (measured: 10 % of a busy process in
 * socket writes). Collecting a turn's messages first sends them in one write.
 */
export class Outbox {
  readonly #nc: NatsConnection;
  readonly #beforeFlush: (() => void) | undefined;
  #subjects: string[] = [];
  #payloads: (Uint8Array | string)[] = [];
  #replies: (string | undefined)[] = [];
  #scheduled = false;

  /**
   * `beforeFlush` runs first at every flush: a user that merges a turn's output into
   * fewer messages publishes them there, so they go out in the same write.
   */
  constructor(nc: NatsConnection, beforeFlush?: () => void) {
    this.#nc = nc;
    this.#beforeFlush = beforeFlush;
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
    this.#beforeFlush?.();
    this.#scheduled = false;
    const subjects = this.#subjects;
    const payloads = this.#payloads;
    const replies = this.#replies;
    if (subjects.length === 0) return;
    this.#subjects = [];
    this.#payloads = [];
    this.#replies = [];
    const nc = this.#nc;
    for (let i = 0; i < subjects.length; i++) {
      const reply = replies[i];
      if (reply === undefined) nc.publish(subjects[i] as string, payloads[i]);
      else nc.publish(subjects[i] as string, payloads[i], { reply });
    }
  };
}

/** Past this many bytes a subject's batch is sent at once (NATS payloads max out at 1 MiB). */
const MAX_BATCH_BYTES = 512 * 1024;

interface CommandGroup {
  frames: Uint8Array[];
  bytes: number;
  reply: string | undefined;
}

/**
 * Commands collected over one event-loop turn and sent as one message per partition
 * subject: a device with several requests in flight usually has several in one read,
 * and each NATS message costs a publish, a routing and a parse. Order within a subject
 * — and so per device — is kept. The reply subject is the sending edge's inbox (the last
 * one given for the subject in the turn); the shard acks only commands carrying a corr.
 */
export class CommandOutbox {
  readonly #nc: NatsConnection;
  #groups = new Map<string, CommandGroup>();
  #scheduled = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  publish(subject: string, frame: Uint8Array, reply?: string): void {
    let group = this.#groups.get(subject);
    if (group === undefined) {
      group = { frames: [], bytes: 0, reply: undefined };
      this.#groups.set(subject, group);
    } else if (group.bytes + frame.length > MAX_BATCH_BYTES) {
      this.#send(subject, group);
      group.frames = [];
      group.bytes = 0;
      group.reply = undefined;
    }
    group.frames.push(frame);
    group.bytes += frame.length;
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
    const payload =
      group.frames.length === 1
        ? (group.frames[0] as Uint8Array)
        : encodeCommandBatch(group.frames);
    if (group.reply === undefined) this.#nc.publish(subject, payload);
    else this.#nc.publish(subject, payload, { reply: group.reply });
  }
}

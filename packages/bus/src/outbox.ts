import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Publishes at the end of the event-loop turn instead of at once. The NATS client
 * writes its buffer to the socket after every microtask checkpoint, which under load
 * means one write syscall per message handled (measured: 10 % of a busy process in
 * socket writes). Collecting a turn's messages first sends them in one write.
 */
export class Outbox {
  readonly #nc: NatsConnection;
  #subjects: string[] = [];
  #payloads: (Uint8Array | string)[] = [];
  #replies: (string | undefined)[] = [];
  #scheduled = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  publish(subject: string, payload: Uint8Array | string, reply?: string): void {
    this.#subjects.push(subject);
    this.#payloads.push(payload);
    this.#replies.push(reply);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Hands everything collected to the client now (also called before a drain). */
  readonly flush = (): void => {
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

import type { Logger } from "@umbra/runtime";
import { messageOf } from "@umbra/runtime";
import type { Presence } from "@umbra/store";
import type { DeviceSession } from "../backend.js";

/**
 * Records which devices hold a session on this edge: online when a session opens,
 * renewed while it lives, offline when it closes. Presence is advisory (isOnline of
 * function calls): a failure to write it is logged once per outage, never fatal.
 */
export class PresenceRecorder {
  readonly #presence: Presence;
  readonly #edgeId: string;
  readonly #logger: Logger;
  #renewal: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(presence: Presence, edgeId: string, logger: Logger) {
    this.#presence = presence;
    this.#edgeId = edgeId;
    this.#logger = logger;
  }

  /** Renews the presence of every session `live` returns, before it expires. */
  startRenewal(live: () => Iterable<DeviceSession>): void {
    this.#renewal = setInterval(() => {
      for (const session of live()) this.online(session);
    }, this.#presence.renewEveryMs);
    this.#renewal.unref();
  }

  online(session: DeviceSession): void {
    this.#record(this.#presence.online(session.deviceKey, this.#holderOf(session)));
  }

  /** Only this session's: a take-over elsewhere has written its own. */
  offline(session: DeviceSession): void {
    this.#record(this.#presence.offline(session.deviceKey, this.#holderOf(session)));
  }

  /** Stops renewing and marks every one of `sessions` offline (failures ignored). */
  async stop(sessions: Iterable<DeviceSession>): Promise<void> {
    if (this.#renewal !== undefined) clearInterval(this.#renewal);
    const writes: Promise<void>[] = [];
    for (const session of sessions)
      writes.push(this.#presence.offline(session.deviceKey, this.#holderOf(session)));
    await Promise.allSettled(writes);
  }

  #holderOf(session: DeviceSession): string {
    return `${this.#edgeId}:${session.id}`;
  }

  #record(write: Promise<void>): void {
    write.then(
      () => {
        this.#failing = false;
      },
      (e: unknown) => {
        if (this.#failing) return;
        this.#failing = true;
        this.#logger.warn({ err: messageOf(e) }, "device presence not recorded");
      },
    );
  }
}

import { hostname } from "node:os";
import { type MemberStatus, type Membership, partitionsOf } from "@umbra/cluster";
import type { Logger } from "@umbra/runtime";
import { messageOf } from "@umbra/runtime";
import type { Shard } from "./shard.js";

export interface MemberOptions {
  readonly id: string;
  readonly partitions: number;
  /** How often the member renews its lease and re-reads the membership. */
  readonly heartbeatMs: number;
  /** A member silent for this long is gone; its partitions move. */
  readonly leaseMs: number;
  /** Waits until the bus has registered new subscriptions (NATS flush). */
  readonly flushBus: () => Promise<void>;
  /** Tells the other members to read the membership now (after a change we made). */
  readonly nudgeOthers?: () => void;
  readonly now?: () => number;
}

/**
 * A shard's part in the cluster: every heartbeat it renews its lease, reads who else
 * is live and serves the partitions rendezvous hashing gives it among them. It joins
 * by subscribing first and announcing itself second, so whoever sees it can already
 * hand partitions to it; it leaves by announcing that it is leaving and serving on until
 * every other member has taken its partitions, then drains and removes itself.
 */
export class ShardMember {
  readonly #shard: Shard;
  readonly #membership: Membership;
  readonly #options: MemberOptions;
  readonly #logger: Logger;
  readonly #startedAt: number;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #leaving = false;
  #view: string[] = [];
  #others: MemberStatus[] = [];
  #storeDown = false;
  #nudgePending = false;

  constructor(shard: Shard, membership: Membership, logger: Logger, options: MemberOptions) {
    this.#shard = shard;
    this.#membership = membership;
    this.#logger = logger;
    this.#options = options;
    this.#startedAt = this.#now();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Joins: the first assignment is in place (subscribed and announced) when this resolves. */
  async join(): Promise<void> {
    await this.#tick();
    this.#options.nudgeOthers?.();
    this.#timer = setInterval(() => {
      this.#ticking = this.#ticking.then(() => this.#tick());
    }, this.#options.heartbeatMs);
    this.#timer.unref();
  }

  /** Another member changed the membership: re-read it now (coalesced with a running tick). */
  nudged(): void {
    if (this.#leaving || this.#timer === undefined || this.#nudgePending) return;
    this.#nudgePending = true;
    this.#ticking = this.#ticking.then(() => {
      this.#nudgePending = false;
      return this.#tick();
    });
  }

  /**
   * Leaves gracefully: announces it, keeps serving until every other live member's
   * assignment excludes it (at most `timeoutMs`), then stops taking commands, lets
   * every mailbox finish and removes its lease.
   */
  async leave(timeoutMs: number): Promise<void> {
    this.#leaving = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#ticking;
    const id = this.#options.id;
    const deadline = this.#now() + timeoutMs;
    for (let round = 0; ; round++) {
      await this.#announce();
      if (round === 0) this.#options.nudgeOthers?.();
      const others = await this.#readOthers();
      const waiting = others.filter((m) => !m.leaving && m.view.includes(id));
      if (waiting.length === 0 && others.some((m) => !m.leaving)) break;
      if (others.every((m) => m.leaving)) {
        this.#logger.warn("leaving with no other shard live: its partitions wait for the next one");
        break;
      }
      if (this.#now() >= deadline) {
        this.#logger.warn(
          { waitingFor: waiting.map((m) => m.id) },
          "hand-off timed out; leaving anyway (the lease of a leaving member is not renewed)",
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, this.#options.heartbeatMs)));
    }
    await this.#shard.stop();
    await this.#membership.leave(id).catch((e: unknown) => {
      this.#logger.warn({ err: String(e) }, "could not remove the lease; it expires by itself");
    });
    this.#logger.info({ member: id }, "left the cluster");
  }

  async #readOthers(): Promise<MemberStatus[]> {
    try {
      const members = await this.#membership.members();
      if (this.#storeDown) this.#logger.info("membership readable again");
      this.#storeDown = false;
      this.#others = members.filter((m) => m.id !== this.#options.id);
    } catch (e) {
      // Redis unreachable: keep serving what we serve; others cannot move either.
      if (!this.#storeDown)
        this.#logger.warn(
          { err: messageOf(e) },
          "membership unreadable; keeping the current partitions",
        );
      this.#storeDown = true;
    }
    return this.#others;
  }

  async #tick(): Promise<void> {
    if (this.#leaving) return;
    const others = await this.#readOthers();
    const id = this.#options.id;
    const view = [id, ...others.filter((m) => !m.leaving).map((m) => m.id)].sort();
    // The same view gives the same partitions: only a change is worth a reassignment.
    if (view.join("\n") !== this.#view.join("\n")) {
      const owned = partitionsOf(id, view, this.#options.partitions);
      const before = this.#shard.ownedPartitions;
      this.#shard.own(owned);
      this.#logger.info(
        { members: view, partitions: owned.length, before },
        "cluster membership changed; partitions reassigned",
      );
      // Announce only once the server has our new subscriptions: whoever sees this
      // view may stop serving what we now serve.
      await this.#options.flushBus().catch(() => undefined);
    }
    this.#view = view;
    await this.#announce();
  }

  async #announce(): Promise<void> {
    const status: MemberStatus = {
      id: this.#options.id,
      host: hostname(),
      pid: process.pid,
      startedAt: this.#startedAt,
      heartbeatAt: this.#now(),
      leaving: this.#leaving,
      view: this.#leaving ? [] : this.#view,
      partitions: this.#shard.ownedPartitions,
      liveActors: this.#shard.liveActors,
      handoffs: this.#shard.handoffs,
    };
    await this.#membership.heartbeat(status).catch((e: unknown) => {
      if (!this.#storeDown) this.#logger.warn({ err: messageOf(e) }, "lease not renewed");
    });
  }
}

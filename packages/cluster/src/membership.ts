import { clusterMemberKey, clusterMembersKey, type Redis } from "@umbra/store";

/**
 * Removes ids from the member set only if their status key is (still) gone: a member
 * that renewed its lease between our read and this call stays listed.
 * KEYS: the set, then one status key per id; ARGV: the ids.
 */
const FORGET_EXPIRED = `
for i, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then redis.call('SREM', KEYS[1], id) end
end
return 0`;

/** What a member says about itself at every heartbeat (`umbra cluster status` shows it). */
export interface MemberStatus {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** ms since the epoch */
  readonly startedAt: number;
  /** ms since the epoch, the member's clock at its last heartbeat */
  readonly heartbeatAt: number;
  /** Draining before it exits: the others take its partitions over. */
  readonly leaving: boolean;
  /** The members it assigns partitions among (itself included unless leaving). */
  readonly view: readonly string[];
  readonly partitions: number;
  readonly liveActors: number;
  /** Partitions it stopped taking commands for whose mailboxes are still finishing. */
  readonly handoffs: number;
}

const isStatus = (value: unknown): value is MemberStatus => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === "string" &&
    typeof v.leaving === "boolean" &&
    Array.isArray(v.view) &&
    typeof v.partitions === "number"
  );
};

/**
 * Shard membership kept in Redis: each member writes its status under a key that
 * expires with its lease and renews it at every heartbeat, so a member that crashes
 * drops out by itself once its lease runs out. The set of ids only lists candidates;
 * a member is live while its status key exists.
 */
export class Membership {
  readonly #redis: Redis;
  readonly #leaseMs: number;

  constructor(redis: Redis, leaseMs: number) {
    this.#redis = redis;
    this.#leaseMs = leaseMs;
  }

  /** Writes (or renews) a member's status for one lease. */
  async heartbeat(status: MemberStatus): Promise<void> {
    await this.#redis
      .multi()
      .set(clusterMemberKey(status.id), JSON.stringify(status), "PX", this.#leaseMs)
      .sadd(clusterMembersKey, status.id)
      .exec()
      .then(failedStep);
  }

  /** Every live member's status, by id; ids whose lease ran out are forgotten. */
  async members(): Promise<MemberStatus[]> {
    const ids = await this.#redis.smembers(clusterMembersKey);
    if (ids.length === 0) return [];
    ids.sort();
    const values = await this.#redis.mget(ids.map(clusterMemberKey));
    const live: MemberStatus[] = [];
    const gone: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const text = values[i];
      let status: unknown;
      try {
        status = text === null || text === undefined ? undefined : JSON.parse(text);
      } catch {
        status = undefined;
      }
      if (isStatus(status)) live.push(status);
      else gone.push(ids[i] as string);
    }
    if (gone.length > 0)
      await this.#redis.eval(
        FORGET_EXPIRED,
        1 + gone.length,
        clusterMembersKey,
        ...gone.map(clusterMemberKey),
        ...gone,
      );
    return live;
  }

  /** Leaves at once: the member's partitions go to the others at their next heartbeat. */
  async leave(id: string): Promise<void> {
    await this.#redis
      .multi()
      .del(clusterMemberKey(id))
      .srem(clusterMembersKey, id)
      .exec()
      .then(failedStep);
  }
}

const failedStep = (results: [Error | null, unknown][] | null): void => {
  if (results === null) throw new Error("Redis transaction aborted");
  for (const [error] of results) if (error !== null) throw error;
};

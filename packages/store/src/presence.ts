import type { Redis } from "ioredis";
import { presenceKey } from "./keys.js";

/** Deletes the presence only if it is still the given session's (a take-over wrote its own). */
const FORGET_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Which devices have a live MQTT session: the edge holding a session writes
 * `{edge}:{session}` under the device's presence key with an expiry and renews it while
 * the session lives, so a crashed edge's devices read as offline once it runs out.
 */
export class Presence {
  readonly #redis: Redis;
  readonly #ttlMs: number;

  constructor(redis: Redis, ttlMs = 30_000) {
    this.#redis = redis;
    this.#ttlMs = ttlMs;
  }

  /** How often a holder must renew: a third of the expiry. */
  get renewEveryMs(): number {
    return Math.floor(this.#ttlMs / 3);
  }

  async online(deviceKey: string, session: string): Promise<void> {
    await this.#redis.set(presenceKey(deviceKey), session, "PX", this.#ttlMs);
  }

  async offline(deviceKey: string, session: string): Promise<void> {
    await this.#redis.eval(FORGET_SCRIPT, 1, presenceKey(deviceKey), session);
  }

  async isOnline(deviceKey: string): Promise<boolean> {
    return (await this.#redis.exists(presenceKey(deviceKey))) === 1;
  }
}

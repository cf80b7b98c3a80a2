import { commandSubject, encodeCommand, type NatsConnection, partitionOf } from "@umbra/bus";
import type { Redis } from "@umbra/store";
import { messageOf } from "./problems.js";

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Record<string, string>;
}

/**
 * One probe device key per partition, under a product id no registered device can have
 * (`|` is refused in names): a `get` for it is answered "no shadow" by the owning shard
 * and touches nothing.
 */
export const probeKeys = (partitions: number): string[] => {
  const keys = new Array<string | undefined>(partitions).fill(undefined);
  let missing = partitions;
  for (let i = 0; missing > 0; i++) {
    const key = `umbra|probe/${i}`;
    const p = partitionOf(key, partitions);
    if (keys[p] === undefined) {
      keys[p] = key;
      missing--;
    }
  }
  return keys as string[];
};

/**
 * `/readyz`: NATS connected, Redis answering, and every partition answered by a shard.
 * The partition probe sends P small requests, so a result is kept for `cacheMs`.
 * (When cluster membership lands, partition ownership can be read from it instead.)
 */
export class Readiness {
  readonly #nc: NatsConnection;
  readonly #redis: Redis;
  readonly #probes: readonly Uint8Array[];
  readonly #subjects: readonly string[];
  readonly #timeoutMs: number;
  readonly #cacheMs: number;
  #last: { at: number; report: Promise<ReadinessReport> } | undefined;

  constructor(
    nc: NatsConnection,
    redis: Redis,
    partitions: number,
    options: { timeoutMs: number; cacheMs: number },
  ) {
    this.#nc = nc;
    this.#redis = redis;
    const keys = probeKeys(partitions);
    this.#probes = keys.map((device) =>
      encodeCommand({ op: "get", device, source: "cloud" }, new Uint8Array(0)),
    );
    this.#subjects = keys.map((_, p) => commandSubject(p));
    this.#timeoutMs = options.timeoutMs;
    this.#cacheMs = options.cacheMs;
  }

  check(now: number): Promise<ReadinessReport> {
    if (this.#last !== undefined && now - this.#last.at < this.#cacheMs) return this.#last.report;
    const report = this.#run();
    this.#last = { at: now, report };
    return report;
  }

  async #run(): Promise<ReadinessReport> {
    const checks: Record<string, string> = {};
    let ready = true;
    if (this.#nc.isClosed()) {
      checks.nats = "connection closed";
      ready = false;
    } else checks.nats = "ok";
    try {
      await this.#redis.ping();
      checks.redis = "ok";
    } catch (e) {
      checks.redis = messageOf(e);
      ready = false;
    }
    if (checks.nats === "ok") {
      const answered = await Promise.all(
        this.#subjects.map((subject, p) =>
          this.#nc
            .request(subject, this.#probes[p] as Uint8Array, { timeout: this.#timeoutMs })
            .then(
              () => true,
              () => false,
            ),
        ),
      );
      const unserved = answered.flatMap((ok, p) => (ok ? [] : [p]));
      checks.partitions =
        unserved.length === 0
          ? `all ${answered.length} served`
          : `${unserved.length} of ${answered.length} not served (first: ${unserved.slice(0, 5).join(", ")})`;
      if (unserved.length > 0) ready = false;
    } else checks.partitions = "unknown: NATS not connected";
    return { ready, checks };
  }
}

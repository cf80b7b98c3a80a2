import { createHash } from "node:crypto";

/** An application's API key: which products it may touch (`*`: all). */
export interface ApiKey {
  /** A short, non-secret name for logs and metrics: the first 8 hex digits of its hash. */
  readonly id: string;
  readonly products: ReadonlySet<string> | "*";
}

const digest = (secret: string): string => createHash("sha256").update(secret).digest("hex");

/**
 * Reads `API_KEYS`: comma-separated `<secret>=<scope>`, scope `*` or product ids joined
 * with `|`, e.g. `k3y-for-app-one=p1|p2,admin-s3cret-key=*`. A secret needs at least 16
 * characters. Returns the reason when the text is not that.
 */
export const parseApiKeys = (text: string): Map<string, ApiKey> | string => {
  const keys = new Map<string, ApiKey>();
  for (const entry of text.split(",")) {
    const item = entry.trim();
    if (item === "") continue;
    const eq = item.lastIndexOf("=");
    if (eq <= 0) return `entry '${item.slice(0, 4)}…' is not <secret>=<products|*>`;
    const secret = item.slice(0, eq);
    const scope = item.slice(eq + 1).trim();
    if (secret.length < 16) return "every secret needs at least 16 characters";
    if (scope === "") return `the key '${secret.slice(0, 4)}…' has no products (use * for all)`;
    const hash = digest(secret);
    keys.set(hash, {
      id: hash.slice(0, 8),
      products: scope === "*" ? "*" : new Set(scope.split("|").map((p) => p.trim())),
    });
  }
  return keys;
};

/** Looks a bearer secret up by its hash (no secret comparison, so no timing leak). */
export const findKey = (keys: Map<string, ApiKey>, secret: string): ApiKey | undefined =>
  keys.get(digest(secret));

export const covers = (key: ApiKey, productId: string): boolean =>
  key.products === "*" || key.products.has(productId);

/**
 * Requests per minute per key, as a token bucket holding up to `burst` requests. Time is
 * passed in so tests need no clock.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(ratePerMinute: number, burst: number) {
    this.#rate = ratePerMinute / 60;
    this.#burst = burst;
  }

  /** 0 when the request may go, else the seconds until it could. */
  take(id: string, nowMs: number): number {
    if (this.#rate <= 0) return 0;
    let bucket = this.#buckets.get(id);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: nowMs };
      this.#buckets.set(id, bucket);
    } else {
      bucket.tokens = Math.min(
        this.#burst,
        bucket.tokens + ((nowMs - bucket.at) / 1000) * this.#rate,
      );
      bucket.at = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#rate);
  }
}

/**
 * The part of a client's address that failed authentications are counted by: an IPv4
 * address (also IPv4-mapped IPv6), or an IPv6 address's /64 network, as one host is
 * handed a whole /64 and could otherwise try from each of its addresses.
 */
export const addressGroup = (address: string): string => {
  const zone = address.indexOf("%");
  const ip = (zone < 0 ? address : address.slice(0, zone)).toLowerCase();
  if (!ip.includes(":")) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped !== null) return mapped[1] as string;
  const [head = "", tail] = ip.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [
    ...left,
    ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"),
    ...right,
  ];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
};

/**
 * Failed authentications per source address (`addressGroup`), as a token bucket of
 * `burst` failures refilled at `perMinute`. An address out of tokens is refused (429)
 * before its key is read, valid or not, until a token is back: keys cannot be guessed
 * faster than `perMinute`, and a throttled guess tells nothing. Other addresses are not
 * affected. At most `maxAddresses` are kept; the one that failed least recently is
 * forgotten first, so the table stays bounded however many addresses fail.
 */
export class AuthThrottle {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  /** In order of the last failure: the first entry is the next one forgotten. */
  readonly #buckets = new Map<string, { tokens: number; at: number; told: boolean }>();

  constructor(perMinute: number, burst: number, maxAddresses: number) {
    this.#rate = perMinute / 60_000;
    this.#burst = burst;
    this.#max = maxAddresses;
  }

  /** Addresses remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  #tokens(bucket: { tokens: number; at: number }, nowMs: number): number {
    return Math.min(this.#burst, bucket.tokens + (nowMs - bucket.at) * this.#rate);
  }

  /** 0 when the address may try a key, else the seconds until it may. */
  wait(address: string, nowMs: number): number {
    if (this.#rate <= 0) return 0;
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) return 0;
    const tokens = this.#tokens(bucket, nowMs);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.#rate / 1000);
  }

  /**
   * Counts a failure. True when it throttles the address for the first time since the
   * address last had all its attempts back: once per episode, for one log line, not
   * once per token that trickles back while an attacker keeps trying.
   */
  failed(address: string, nowMs: number): boolean {
    if (this.#rate <= 0) return false;
    const bucket = this.#buckets.get(address);
    const before = bucket === undefined ? this.#burst : this.#tokens(bucket, nowMs);
    const tokens = before - 1;
    const told = bucket?.told === true && before < this.#burst;
    const tell = tokens < 1 && !told;
    // Re-inserted: the map's order is the order of last failures.
    this.#buckets.delete(address);
    this.#buckets.set(address, { tokens, at: nowMs, told: told || tell });
    if (this.#buckets.size > this.#max)
      this.#buckets.delete(this.#buckets.keys().next().value as string);
    return tell;
  }
}

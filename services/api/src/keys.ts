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

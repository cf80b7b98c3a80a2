/**
 * Slows down password guessing at the edge (MQTT_AUTH_FAILURE_*). Failed
 * authentications are counted per source address and per client id, each in a
 * window that starts at its first failure:
 * - an address that has failed `limit` times is refused at once, before the registry
 *   is asked, until its window ends (one host cannot flood the registry or guess fast);
 * - a client id that has failed `limit` times still has every CONNECT checked (its
 *   device, from any address, still connects at once with the right password), but a
 *   failure is answered `delayMs` late, so a guesser learns each answer slowly.
 * Devices behind one NAT share an address: raise the limit, or set it to 0 (off).
 */

/** Failures per key in a fixed window; at most `capacity` keys, the oldest go first. */
export class FailureTable {
  /** Insertion order is window-start order: a key is re-inserted when its window restarts. */
  private readonly entries = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly capacity: number,
    private readonly windowMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  failures(key: string, now: number): number {
    const entry = this.entries.get(key);
    if (entry === undefined) return 0;
    if (now - entry.since < this.windowMs) return entry.count;
    this.entries.delete(key);
    return 0;
  }

  record(key: string, now: number): void {
    const entry = this.entries.get(key);
    if (entry !== undefined && now - entry.since < this.windowMs) {
      entry.count++;
      return;
    }
    if (entry !== undefined) this.entries.delete(key);
    else if (this.entries.size >= this.capacity) {
      // The first key has the oldest window; an expired one would go first anyway.
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { count: 1, since: now });
  }
}

/** Client ids past this length are never device names; kept keys stay small. */
const MAX_KEY_LENGTH = 128;

export interface AuthThrottleOptions {
  /** Failures before slowing down; 0 = never. */
  readonly limit: number;
  readonly windowMs: number;
  readonly delayMs: number;
  /** Keys remembered per table. */
  readonly tableSize: number;
  readonly now?: () => number;
}

export class AuthThrottle {
  readonly addresses: FailureTable;
  readonly clientIds: FailureTable;
  private readonly now: () => number;

  constructor(private readonly options: AuthThrottleOptions) {
    this.addresses = new FailureTable(options.tableSize, options.windowMs);
    this.clientIds = new FailureTable(options.tableSize, options.windowMs);
    this.now = options.now ?? Date.now;
  }

  /** Whether CONNECTs from `address` are refused without authentication. */
  addressBlocked(address: string): boolean {
    const { limit } = this.options;
    return limit > 0 && this.addresses.failures(address, this.now()) >= limit;
  }

  /**
   * Records a failed authentication; returns how long to wait before answering it
   * (0: answer at once).
   */
  failed(clientId: string, address: string): number {
    const { limit, delayMs } = this.options;
    if (limit === 0) return 0;
    const now = this.now();
    const key = clientId.length > MAX_KEY_LENGTH ? clientId.slice(0, MAX_KEY_LENGTH) : clientId;
    this.addresses.record(address, now);
    this.clientIds.record(key, now);
    return this.clientIds.failures(key, now) > limit ? delayMs : 0;
  }
}

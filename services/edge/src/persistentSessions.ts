/**
 * What this edge remembers of ended persistent sessions (MQTT 3.1.1 cleanSession=0, MQTT 5
 * a Session Expiry Interval above 0): each device's granted subscription filters, until
 * the session expires or the table is full and it is the oldest. Nothing else: cloud→device
 * messages are QoS 0, so there is no queue of unacknowledged messages to keep, and
 * messages published while the device is away are not kept either.
 *
 * In memory and per edge: a device that reconnects to another edge, or after a restart,
 * starts a new session (CONNACK sessionPresent 0), which is the truth.
 */
export class PersistentSessions {
  /** Device key → its session; Map order is storing order, so the first is the oldest. */
  private readonly sessions = new Map<string, StoredSession>();
  /** Sessions forgotten because the table was full. */
  evicted = 0;

  constructor(
    private readonly maxSessions: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Keeps `filters` for `deviceKey` for `expiryMs` (0 keeps nothing), replacing what the
   * device had here; forgets the oldest session if the table is full.
   */
  store(deviceKey: string, filters: readonly string[], expiryMs: number): void {
    this.sessions.delete(deviceKey); // stored again: now the newest
    if (expiryMs <= 0 || this.maxSessions === 0) return;
    const now = this.now();
    this.dropExpiredOldest(now);
    if (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
      this.evicted++;
    }
    this.sessions.set(deviceKey, { filters, expiresAt: now + expiryMs });
  }

  /** The device's kept filters, removing them; undefined when none are kept or they expired. */
  take(deviceKey: string): readonly string[] | undefined {
    const stored = this.sessions.get(deviceKey);
    if (stored === undefined) return undefined;
    this.sessions.delete(deviceKey);
    return stored.expiresAt > this.now() ? stored.filters : undefined;
  }

  /** Forgets the device's session (a clean start). */
  discard(deviceKey: string): void {
    this.sessions.delete(deviceKey);
  }

  /**
   * Expired sessions at the old end go as new ones come, so an idle table does not hold
   * them for long; one with a longer expiry than those after it keeps them until it goes
   * (they are never returned, and the count bound holds regardless).
   */
  private dropExpiredOldest(now: number): void {
    for (const [key, stored] of this.sessions) {
      if (stored.expiresAt > now) return;
      this.sessions.delete(key);
    }
  }
}

interface StoredSession {
  readonly filters: readonly string[];
  /** ms since the epoch */
  readonly expiresAt: number;
}

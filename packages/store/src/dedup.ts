/**
 * Remembers the QoS 1 publishes a device had applied most recently, so that a copy of
 * one is answered without being applied twice. Copies come two ways: the device
 * retransmits (DUP set) after it lost the PUBACK, possibly through another edge; or an
 * edge re-sends a command whose ack it did not see (DUP set, same correlation id) —
 * and while partitions move between shards, the original may then arrive *after* its
 * copy was applied. An entry is `{packetId}:{hash of the payload}:{correlation id}`:
 * - a DUP matches any entry with its packet id and payload;
 * - a command without DUP matches only its own correlation id (its edge's copy was
 *   applied first), because a device reuses a packet id — often with the same
 *   payload — as soon as the original was acknowledged, and that is a new message.
 * The ring is stored with the shadow (same compare-and-set, `ShadowStore`), so it
 * survives a restart or a move of the device to another shard.
 */
export const DEDUP_CAPACITY = 64;

const payloadHash = (payload: Uint8Array): string => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < payload.length; i++)
    hash = Math.imul(hash ^ (payload[i] as number), 0x01000193);
  return (hash >>> 0).toString(36);
};

export const dedupEntry = (
  packetId: number,
  payload: Uint8Array,
  corr: number | undefined,
): string => `${packetId}:${payloadHash(payload)}:${corr === undefined ? "" : corr.toString(36)}`;

/** `{packetId}:{hash}:` — what every copy of one publish shares. */
const messagePart = (entry: string): string =>
  entry.slice(0, entry.indexOf(":", entry.indexOf(":") + 1) + 1);

export class DedupRing {
  #entries: string[];

  constructor(serialized = "") {
    this.#entries = serialized === "" ? [] : serialized.split(",");
  }

  /** Whether a copy of this publish was applied (see the module comment for the rule). */
  seen(entry: string, dup: boolean): boolean {
    if (!dup) return !entry.endsWith(":") && this.#entries.includes(entry);
    const message = messagePart(entry);
    return this.#entries.some((e) => e.startsWith(message));
  }

  add(entry: string): void {
    // One entry per packet id: the device may reuse an id once it was acknowledged.
    const id = entry.slice(0, entry.indexOf(":") + 1);
    const existing = this.#entries.findIndex((e) => e.startsWith(id));
    if (existing !== -1) this.#entries.splice(existing, 1);
    this.#entries.push(entry);
    if (this.#entries.length > DEDUP_CAPACITY) this.#entries.shift();
  }

  serialize(): string {
    return this.#entries.join(",");
  }
}

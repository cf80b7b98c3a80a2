/**
 * Remembers the QoS 1 publishes a device had applied most recently, so that a
 * retransmission (DUP set: the device or the edge did not see the ack) is answered
 * without being applied twice. An entry is `{packetId}:{hash of the payload}`: a packet
 * id alone is reused by the device as soon as the original was acknowledged, so a DUP
 * with the same id but another payload is a new message that never arrived before.
 * The ring is stored with the shadow (same compare-and-set), so it survives a restart
 * or a move of the device to another shard.
 */
export const DEDUP_CAPACITY = 64;

export const payloadHash = (payload: Uint8Array): string => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < payload.length; i++)
    hash = Math.imul(hash ^ (payload[i] as number), 0x01000193);
  return (hash >>> 0).toString(36);
};

export const dedupEntry = (packetId: number, payload: Uint8Array): string =>
  `${packetId}:${payloadHash(payload)}`;

export class DedupRing {
  #entries: string[];

  constructor(serialized = "") {
    this.#entries = serialized === "" ? [] : serialized.split(",");
  }

  has(entry: string): boolean {
    return this.#entries.includes(entry);
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

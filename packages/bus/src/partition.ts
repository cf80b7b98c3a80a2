/**
 * Partition of a device key: FNV-1a (32-bit) of its UTF-8 bytes, mod P. The same
 * function NATS subject mapping uses for `partition(n, …)`, so the mapping could move
 * into the server later. P is fixed per cluster: ownership of partitions moves
 * between shards, the partition of a device never does.
 */
export const DEFAULT_PARTITIONS = 1024;

const encoder = new TextEncoder();

export const fnv1a32 = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      hash = Math.imul(hash ^ code, 0x01000193);
    } else {
      // Rare (non-ASCII names): hash the UTF-8 bytes like every other implementation.
      for (const byte of encoder.encode(text.slice(i))) hash = Math.imul(hash ^ byte, 0x01000193);
      break;
    }
  }
  return hash >>> 0;
};

export const partitionOf = (deviceKey: string, partitions: number): number =>
  fnv1a32(deviceKey) % partitions;

/**
 * Reads a partition set: `all`, or comma-separated numbers and inclusive ranges
 * (`0-511,700`). Returns the sorted partitions or a message saying what is wrong.
 */
export const parsePartitionSet = (
  text: string,
  partitions: number,
):
  | { readonly ok: true; readonly value: number[] }
  | { readonly ok: false; readonly error: string } => {
  const trimmed = text.trim();
  if (trimmed === "all")
    return { ok: true, value: Array.from({ length: partitions }, (_, i) => i) };
  const chosen = new Set<number>();
  for (const part of trimmed.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (m === null) return { ok: false, error: `'${part}' is not a partition or a range a-b` };
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > to) return { ok: false, error: `range '${part}' runs backwards` };
    if (to >= partitions)
      return { ok: false, error: `partition ${to} is outside 0-${partitions - 1}` };
    for (let p = from; p <= to; p++) chosen.add(p);
  }
  return { ok: true, value: [...chosen].sort((a, b) => a - b) };
};

/**
 * Packet boundaries, read from the fixed header alone. mqtt-packet's parser buffers a
 * packet whole before looking at it; the edge frames packets itself so that it can
 * refuse an oversized one as soon as its length is known, and hand the parser exactly
 * one packet at a time (so reading can stop between packets).
 */

/** `packetLength`: the fixed header has not fully arrived yet. */
export const INCOMPLETE = -1;
/** `packetLength`: the remaining length is not a valid variable byte integer. */
export const MALFORMED = -2;

/** MQTT control packet type of a fixed header's first byte (1 CONNECT … 15 AUTH). */
export const packetType = (firstByte: number): number => firstByte >> 4;

/**
 * Size in bytes of the packet at the start of `bytes` (fixed header plus remaining
 * length), or INCOMPLETE / MALFORMED.
 */
export const packetLength = (bytes: Buffer): number => {
  let remaining = 0;
  let multiplier = 1;
  // The remaining length takes 1 to 4 bytes after the first (MQTT §2.2.3).
  for (let at = 1; at <= 4; at++) {
    if (at >= bytes.length) return INCOMPLETE;
    const byte = bytes.readUInt8(at);
    remaining += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return at + 1 + remaining;
    multiplier *= 128;
  }
  return MALFORMED;
};

/** Offset of the variable header of a complete packet (past the remaining length). */
export const bodyOffset = (packet: Buffer): number => {
  let at = 1;
  while (at < 4 && (packet.readUInt8(at) & 0x80) !== 0) at++;
  return at + 1;
};

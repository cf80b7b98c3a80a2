/**
 * MQTT's UTF-8 Encoded String rule (3.1.1 §1.5.3, 5 §1.5.4): the bytes must be
 * well-formed UTF-8 (no overlong forms, no surrogates U+D800–U+DFFF, nothing above
 * U+10FFFF) and must not encode U+0000; a packet breaking it is malformed and the
 * connection is closed. Node's decoder would turn such bytes into U+FFFD instead, so
 * a client id `t\xFF` would read as `t\uFFFD`: the bytes are checked before decoding.
 *
 * A plain byte loop, no allocation: a short ASCII topic costs a few ns.
 */
export const isMqttUtf8 = (bytes: Uint8Array, start: number, end: number): boolean => {
  let at = start;
  while (at < end) {
    const lead = bytes[at] as number;
    if (lead < 0x80) {
      if (lead === 0) return false;
      at++;
      continue;
    }
    // The second byte's range depends on the lead (Unicode Table 3-7).
    let low = 0x80;
    let high = 0xbf;
    let tail: number;
    if (lead >= 0xc2 && lead <= 0xdf) tail = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      tail = 2;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f; // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      tail = 3;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f; // above U+10FFFF
    } else return false; // a continuation byte, an overlong C0/C1 lead, or F5–FF
    if (at + tail >= end) return false; // cut short
    const second = bytes[at + 1] as number;
    if (second < low || second > high) return false;
    for (let i = 2; i <= tail; i++) {
      const next = bytes[at + i] as number;
      if (next < 0x80 || next > 0xbf) return false;
    }
    at += tail + 1;
  }
  return true;
};

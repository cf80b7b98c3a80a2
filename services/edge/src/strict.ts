import { Reason } from "./codes.js";
import { bodyOffset, packetType } from "./framing.js";
import { isMqttUtf8 } from "./utf8.js";

/**
 * What mqtt-packet lets through, checked on the raw bytes of one framed packet before
 * it is parsed. mqtt-packet decodes strings loosely (ill-formed UTF-8 becomes U+FFFD),
 * reads past a truncated field as -1, keeps a duplicated property as an array and
 * ignores bytes it does not expect; the MQTT specs make each of these a Malformed
 * Packet (0x81) or a Protocol Error (0x82) that closes the connection (3.1.1 §4.8,
 * 5 §4.13). Only the packets a client may send are walked; the rest are refused by
 * the handlers. The PUBLISH fast path (publishCodec.ts) reads its packets itself and
 * sends anything unusual here.
 */

/** Why a packet is refused: the MQTT 5 reason code and a line for the log. */
export interface Violation {
  readonly reason: number;
  readonly why: string;
}

const CONNECT = 1;
const PUBLISH = 3;
const PUBACK = 4;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const PINGREQ = 12;
const DISCONNECT = 14;
/** Will properties (CONNECT payload), a context of their own in the property table. */
const WILL = 16;

type PropertyType = "byte" | "int16" | "int32" | "varint" | "string" | "binary" | "pair";

/** MQTT 5 §2.2.2.2: each property's type and the packets (bit per type) it may be in. */
const PROPERTIES = new Map<number, { type: PropertyType; in: number }>();
const property = (id: number, type: PropertyType, ...packets: number[]): void => {
  PROPERTIES.set(id, { type, in: packets.reduce((mask, packet) => mask | (1 << packet), 0) });
};
property(0x01, "byte", PUBLISH, WILL); // Payload Format Indicator
property(0x02, "int32", PUBLISH, WILL); // Message Expiry Interval
property(0x03, "string", PUBLISH, WILL); // Content Type
property(0x08, "string", PUBLISH, WILL); // Response Topic
property(0x09, "binary", PUBLISH, WILL); // Correlation Data
property(0x0b, "varint", PUBLISH, SUBSCRIBE); // Subscription Identifier
property(0x11, "int32", CONNECT, DISCONNECT); // Session Expiry Interval
property(0x15, "string", CONNECT); // Authentication Method
property(0x16, "binary", CONNECT); // Authentication Data
property(0x17, "byte", CONNECT); // Request Problem Information
property(0x18, "int32", WILL); // Will Delay Interval
property(0x19, "byte", CONNECT); // Request Response Information
property(0x1c, "string", DISCONNECT); // Server Reference
property(0x1f, "string", PUBACK, DISCONNECT); // Reason String
property(0x21, "int16", CONNECT); // Receive Maximum
property(0x22, "int16", CONNECT); // Topic Alias Maximum
property(0x23, "int16", PUBLISH); // Topic Alias
property(0x26, "pair", CONNECT, WILL, PUBLISH, PUBACK, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT);
property(0x27, "int32", CONNECT); // Maximum Packet Size
const USER_PROPERTY = 0x26;

/** Thrown by the reader; caught once in checkPacket (a rare path: refused packets). */
class Refused {
  constructor(
    readonly reason: number,
    readonly why: string,
  ) {}
}
const malformed = (why: string): never => {
  throw new Refused(Reason.malformedPacket, why);
};
const protocolError = (why: string): never => {
  throw new Refused(Reason.protocolError, why);
};

/** A cursor over one packet's bytes; every read fails as malformed past the end. */
class Reader {
  /** Properties of the last list read, one bit per id (ids are below 64). */
  private seenLow = 0;
  private seenHigh = 0;

  constructor(
    private readonly bytes: Buffer,
    public at: number,
    public end: number,
  ) {}

  get done(): boolean {
    return this.at >= this.end;
  }

  byte(what: string): number {
    if (this.at + 1 > this.end) malformed(`${what} cut short`);
    return this.bytes[this.at++] as number;
  }

  int16(what: string): number {
    if (this.at + 2 > this.end) malformed(`${what} cut short`);
    const value = this.bytes.readUInt16BE(this.at);
    this.at += 2;
    return value;
  }

  int32(what: string): number {
    if (this.at + 4 > this.end) malformed(`${what} cut short`);
    const value = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  varint(what: string): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      const byte = this.byte(what);
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return value;
      multiplier *= 128;
    }
    return malformed(`${what} is not a variable byte integer`);
  }

  /** Skips a UTF-8 Encoded String; returns its length in bytes. */
  string(what: string): number {
    const length = this.int16(what);
    if (this.at + length > this.end) malformed(`${what} cut short`);
    if (!isMqttUtf8(this.bytes, this.at, this.at + length))
      malformed(`${what} is not well-formed UTF-8 or contains U+0000`);
    this.at += length;
    return length;
  }

  binary(what: string): void {
    const length = this.int16(what);
    if (this.at + length > this.end) malformed(`${what} cut short`);
    this.at += length;
  }

  /** An MQTT 5 property list of a packet (or WILL): known, allowed, once, in range. */
  properties(packet: number): void {
    const length = this.varint("property length");
    const end = this.at + length;
    if (end > this.end) malformed("properties run past the packet");
    const outer = this.end;
    this.end = end;
    let seenLow = 0;
    let seenHigh = 0;
    while (!this.done) {
      const id = this.varint("property identifier");
      const spec = PROPERTIES.get(id);
      if (spec === undefined || (spec.in & (1 << packet)) === 0)
        malformed(`property 0x${id.toString(16)} is not allowed here`);
      if (id !== USER_PROPERTY) {
        const bit = 1 << (id & 31);
        const seen = id < 32 ? seenLow : seenHigh;
        if ((seen & bit) !== 0) protocolError(`property 0x${id.toString(16)} appears twice`);
        if (id < 32) seenLow |= bit;
        else seenHigh |= bit;
      }
      this.propertyValue(id, (spec as { type: PropertyType }).type, packet);
    }
    this.end = outer;
    this.seenLow = seenLow;
    this.seenHigh = seenHigh;
  }

  /** Whether the last property list read held property `id` (not User Property). */
  sawProperty(id: number): boolean {
    return ((id < 32 ? this.seenLow : this.seenHigh) & (1 << (id & 31))) !== 0;
  }

  private propertyValue(id: number, type: PropertyType, packet: number): void {
    const what = `property 0x${id.toString(16)}`;
    switch (type) {
      case "byte": {
        // Payload Format Indicator and the two Request flags are 0 or 1.
        if (this.byte(what) > 1) protocolError(`${what} must be 0 or 1`);
        return;
      }
      case "int16": {
        // Receive Maximum and Topic Alias 0 are protocol errors (§3.1.2.11.3, §3.3.2.3.4).
        if (this.int16(what) === 0 && (id === 0x21 || id === 0x23))
          protocolError(`${what} must not be 0`);
        return;
      }
      case "int32": {
        if (this.int32(what) === 0 && id === 0x27) protocolError(`${what} must not be 0`);
        return;
      }
      case "varint": {
        const value = this.varint(what);
        // A client's PUBLISH carries no Subscription Identifier (§3.3.4, MQTT-3.3.4-6).
        if (packet === PUBLISH) protocolError("PUBLISH with a subscription identifier");
        if (value === 0) protocolError(`${what} must not be 0`);
        return;
      }
      case "string":
        this.string(what);
        return;
      case "binary":
        this.binary(what);
        return;
      case "pair":
        this.string("user property name");
        this.string("user property value");
        return;
    }
  }
}

/**
 * Checks one complete packet from a client speaking `protocolVersion` (3, 4 or 5);
 * undefined when mqtt-packet may parse it.
 */
export const checkPacket = (packet: Buffer, protocolVersion: number): Violation | undefined => {
  const first = packet[0] as number;
  const reader = new Reader(packet, bodyOffset(packet), packet.length);
  const v5 = protocolVersion === 5;
  try {
    switch (packetType(first)) {
      case CONNECT:
        checkFlags(first, 0, "CONNECT");
        checkConnect(reader);
        break;
      case PUBLISH:
        checkPublish(reader, first, v5);
        break;
      case PUBACK:
        checkFlags(first, 0, "PUBACK");
        reader.int16("packet identifier");
        if (v5 && !reader.done) {
          reader.byte("reason code");
          if (!reader.done) reader.properties(PUBACK);
        }
        break;
      case SUBSCRIBE:
        checkFlags(first, 2, "SUBSCRIBE");
        checkSubscribe(reader, v5);
        break;
      case UNSUBSCRIBE:
        checkFlags(first, 2, "UNSUBSCRIBE");
        packetIdentifier(reader);
        if (v5) reader.properties(UNSUBSCRIBE);
        if (reader.done) protocolError("UNSUBSCRIBE without a topic filter");
        while (!reader.done) reader.string("topic filter");
        break;
      case PINGREQ:
        checkFlags(first, 0, "PINGREQ");
        break;
      case DISCONNECT:
        checkFlags(first, 0, "DISCONNECT");
        if (v5 && !reader.done) {
          reader.byte("reason code");
          if (!reader.done) reader.properties(DISCONNECT);
        }
        break;
      default:
        return undefined; // not a client's packet: the handlers refuse it
    }
    if (!reader.done) malformed(`${reader.end - reader.at} unexpected bytes at the end`);
    return undefined;
  } catch (error) {
    if (error instanceof Refused) return error;
    throw error;
  }
};

/** Reserved fixed-header flags (§2.2.2) must be as the table says. */
const checkFlags = (first: number, expected: number, name: string): void => {
  if ((first & 0x0f) !== expected)
    malformed(`${name} with reserved flags 0x${(first & 15).toString(16)}`);
};

/** SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH carry a non-zero packet identifier. */
const packetIdentifier = (reader: Reader): void => {
  if (reader.int16("packet identifier") === 0) protocolError("packet identifier 0");
};

const checkConnect = (reader: Reader): void => {
  reader.string("protocol name");
  const level = reader.byte("protocol level") & 0x7f;
  const flags = reader.byte("connect flags");
  if ((flags & 0x01) !== 0) malformed("CONNECT reserved flag set");
  const will = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  if (willQos === 3) malformed("will QoS 3");
  if (!will && (willQos !== 0 || (flags & 0x20) !== 0))
    malformed("will QoS or retain without a will");
  const hasUsername = (flags & 0x80) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  // 3.1.1 MQTT-3.1.2-22; MQTT 5 allows a password alone.
  if (level < 5 && hasPassword && !hasUsername) malformed("password without a user name");
  reader.int16("keep alive");
  if (level === 5) {
    reader.properties(CONNECT);
    // Authentication Data without Authentication Method (§3.1.2.11.10).
    if (reader.sawProperty(0x16) && !reader.sawProperty(0x15))
      protocolError("authentication data without an authentication method");
  }
  reader.string("client id");
  if (will) {
    if (level === 5) reader.properties(WILL);
    reader.string("will topic");
    reader.binary("will payload");
  }
  if (hasUsername) reader.string("user name");
  if (hasPassword) reader.binary("password");
};

const checkPublish = (reader: Reader, first: number, v5: boolean): void => {
  const qos = (first >> 1) & 3;
  if (qos === 3) malformed("PUBLISH with QoS 3");
  if (qos === 0 && (first & 0x08) !== 0) malformed("QoS 0 PUBLISH with DUP set");
  reader.string("topic name");
  if (qos > 0) packetIdentifier(reader);
  if (v5) reader.properties(PUBLISH);
  reader.at = reader.end; // the payload is the application's
};

const checkSubscribe = (reader: Reader, v5: boolean): void => {
  packetIdentifier(reader);
  if (v5) reader.properties(SUBSCRIBE);
  if (reader.done) protocolError("SUBSCRIBE without a topic filter");
  while (!reader.done) {
    reader.string("topic filter");
    const options = reader.byte("subscription options");
    // 3.1.1: bits 7-2 reserved; 5: bits 7-6 reserved, retain handling 3 is invalid.
    if ((options & (v5 ? 0xc0 : 0xfc)) !== 0) malformed("subscription options reserved bits set");
    if ((options & 3) === 3) malformed("subscription QoS 3");
    if (v5 && ((options >> 4) & 3) === 3) malformed("retain handling 3");
  }
};

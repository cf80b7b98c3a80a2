/** Per-session bounds of the edge. Every one protects the edge from one device. */
export interface EdgeLimits {
  /**
   * Largest packet accepted, fixed header included (what MQTT 5 calls Maximum Packet
   * Size, and what CONNACK advertises). Checked as soon as the fixed header arrives.
   */
  readonly maxPacketBytes: number;
  /** QoS 1 publishes awaiting the backend per session; advertised as Receive Maximum. */
  readonly maxInflight: number;
  /** Bytes queued on a socket above which deliveries to it are dropped. */
  readonly outboundHighWaterBytes: number;
  /** Time from accept to CONNACK; a connection that takes longer is closed. */
  readonly connectTimeoutMs: number;
  /**
   * Largest CONNECT accepted (capped by maxPacketBytes). Before CONNACK a client is
   * unknown; this bounds what it can make the edge buffer. Checked from the fixed header.
   */
  readonly maxConnectBytes: number;
  /** Topic filters one session may hold; past it SUBSCRIBE answers 0x97 (3.1.1: 0x80). */
  readonly maxSubscriptions: number;
  /** Longest topic name or filter in bytes; a longer filter is refused, a longer topic closes. */
  readonly maxTopicBytes: number;
  /**
   * Failed authentications per source address, and per client id, within
   * authFailureWindowMs before the edge slows down: an address past it is refused at
   * once (MQTT 5 0x9F, 3.1.1 return code 5) without asking the registry; a client id past
   * it gets its refusals authFailureDelayMs late (a right password still connects at
   * once). 0 turns the throttle off.
   */
  readonly authFailureLimit: number;
  readonly authFailureWindowMs: number;
  readonly authFailureDelayMs: number;
  /** Addresses, and client ids, whose failures are remembered; past it the oldest go. */
  readonly authFailureTableSize: number;
  /**
   * Ended persistent sessions (clean=false) whose subscriptions the edge keeps for the
   * device's return; past it the oldest is forgotten. 0 keeps none.
   */
  readonly maxPersistentSessions: number;
  /**
   * How long an ended persistent session is kept: an MQTT 3.1.1 clean=false session
   * this long, an MQTT 5 session its Session Expiry Interval up to this. 0 keeps none.
   */
  readonly sessionExpirySeconds: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = Object.freeze({
  maxPacketBytes: 65_536,
  maxInflight: 32,
  outboundHighWaterBytes: 1024 * 1024,
  connectTimeoutMs: 10_000,
  // A device's CONNECT holds a client id and product id of at most 64 characters and a
  // token of about 200 bytes: 4 KiB leaves room for a will and user properties.
  maxConnectBytes: 4_096,
  // OneNET topics are `$sys/{pid}/{dn}/…` with names of at most 64 characters (up to 192
  // bytes each in UTF-8): the longest is under 450 bytes.
  maxTopicBytes: 512,
  // A device needs a handful; a gateway may subscribe for its sub-devices.
  maxSubscriptions: 128,
  authFailureLimit: 10,
  authFailureWindowMs: 60_000,
  authFailureDelayMs: 2_000,
  authFailureTableSize: 10_000,
  // An SDK reconnects within seconds to minutes; an hour covers a restart or a network
  // outage without keeping a device that left for good.
  maxPersistentSessions: 10_000,
  sessionExpirySeconds: 3_600,
});

/** Largest value MQTT can express for each limit that is advertised on the wire. */
const MQTT_MAX_PACKET_BYTES = 268_435_460;
const MQTT_MAX_RECEIVE_MAXIMUM = 65_535;
/** A week, the longest an ended session may be kept: more than any SDK asks a broker for. */
export const MAX_SESSION_EXPIRY_SECONDS = 604_800;

const positiveInteger = (name: string, value: number, max: number): number => {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new RangeError(`edge limit ${name} must be an integer from 1 to ${max}, got ${value}`);
  return value;
};

const nonNegativeInteger = (name: string, value: number, max: number): number =>
  value === 0 ? 0 : positiveInteger(name, value, max);

/** The defaults with `overrides` applied; throws a RangeError naming a bad value. */
export const resolveEdgeLimits = (overrides: Partial<EdgeLimits> = {}): EdgeLimits => {
  const limits = { ...DEFAULT_EDGE_LIMITS, ...overrides };
  return Object.freeze({
    maxPacketBytes: positiveInteger("maxPacketBytes", limits.maxPacketBytes, MQTT_MAX_PACKET_BYTES),
    maxInflight: positiveInteger("maxInflight", limits.maxInflight, MQTT_MAX_RECEIVE_MAXIMUM),
    outboundHighWaterBytes: positiveInteger(
      "outboundHighWaterBytes",
      limits.outboundHighWaterBytes,
      Number.MAX_SAFE_INTEGER,
    ),
    connectTimeoutMs: positiveInteger(
      "connectTimeoutMs",
      limits.connectTimeoutMs,
      2_147_483_647, // setTimeout's ceiling
    ),
    maxConnectBytes: positiveInteger(
      "maxConnectBytes",
      limits.maxConnectBytes,
      MQTT_MAX_PACKET_BYTES,
    ),
    maxSubscriptions: positiveInteger("maxSubscriptions", limits.maxSubscriptions, 1_000_000),
    maxTopicBytes: positiveInteger("maxTopicBytes", limits.maxTopicBytes, 65_535),
    authFailureLimit: nonNegativeInteger("authFailureLimit", limits.authFailureLimit, 1_000_000),
    authFailureWindowMs: positiveInteger(
      "authFailureWindowMs",
      limits.authFailureWindowMs,
      86_400_000,
    ),
    authFailureDelayMs: nonNegativeInteger(
      "authFailureDelayMs",
      limits.authFailureDelayMs,
      2_147_483_647,
    ),
    authFailureTableSize: positiveInteger(
      "authFailureTableSize",
      limits.authFailureTableSize,
      10_000_000,
    ),
    maxPersistentSessions: nonNegativeInteger(
      "maxPersistentSessions",
      limits.maxPersistentSessions,
      10_000_000,
    ),
    sessionExpirySeconds: nonNegativeInteger(
      "sessionExpirySeconds",
      limits.sessionExpirySeconds,
      MAX_SESSION_EXPIRY_SECONDS,
    ),
  });
};

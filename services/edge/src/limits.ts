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
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = Object.freeze({
  maxPacketBytes: 65_536,
  maxInflight: 32,
  outboundHighWaterBytes: 1024 * 1024,
  connectTimeoutMs: 10_000,
});

/** Largest value MQTT can express for each limit that is advertised on the wire. */
const MQTT_MAX_PACKET_BYTES = 268_435_460;
const MQTT_MAX_RECEIVE_MAXIMUM = 65_535;

const positiveInteger = (name: string, value: number, max: number): number => {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new RangeError(`edge limit ${name} must be an integer from 1 to ${max}, got ${value}`);
  return value;
};

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
  });
};

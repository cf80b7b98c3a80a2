import type { Socket } from "node:net";
import type { DeviceId, DialectName } from "@umbra/dialects";
import type { Logger } from "@umbra/runtime";
import type { Packet } from "mqtt-packet";
import type { AuthThrottle } from "./authThrottle.js";
import type { DeviceSession, EdgeBackend } from "./backend.js";
import type { EdgeLimits } from "./limits.js";
import type { DialectTraffic, EdgeMetrics } from "./metrics.js";

/*
 * What the packet handlers (`handlers/`) and the gateway ACL see of a session: the
 * session module depends on the handlers, never the other way round.
 */

export type ProtocolVersion = 3 | 4 | 5;

/**
 * `awaiting-connect` until CONNECT, `authenticating` while the backend decides (reading
 * stops), `open` from CONNACK 0, `closed` once torn down (never left).
 */
export type SessionState = "awaiting-connect" | "authenticating" | "open" | "closed";

/** Warnings a session logs once: a misbehaving device must not flood the log. */
export type OnceWarning =
  | "slow-reader"
  | "denied-publish"
  | "denied-subscribe"
  | "subscription-limit";

/** The parts of the server every session shares that handlers use. */
export interface HandlerContext {
  readonly backend: EdgeBackend;
  readonly limits: EdgeLimits;
  readonly metrics: EdgeMetrics;
  /** Failed authentications of this server's clients, per address and client id. */
  readonly authThrottle: AuthThrottle;
}

/** One MQTT connection, as the packet handlers drive it. */
export interface HandlerSession extends DeviceSession {
  readonly state: SessionState;
  /** 3, 4 (3.1.1) or 5; 0 before CONNECT. */
  readonly protocolVersion: ProtocolVersion | 0;
  readonly socket: Socket;
  readonly context: HandlerContext;
  readonly log: Logger;
  /** Subscribed filters (every grant is QoS 0). */
  readonly subscriptions: Set<string>;
  /** QoS 1 publishes handed to the backend and not yet settled. */
  readonly inflight: number;
  /** The client's MQTT 5 Maximum Packet Size: nothing larger may be sent to it. */
  clientMaxPacketBytes: number;
  /** PUBLISH counters of the session's dialect. */
  traffic: DialectTraffic;
  /** Set from the authentication's outcome before `accept`. */
  dialect: DialectName | undefined;
  modelId: string | undefined;

  send(packet: Packet): void;
  /** Ends the connection without a DISCONNECT. */
  end(why: string): void;
  /** Sends a refusing CONNACK and hangs up. */
  refuse(connack: Packet, why: string): void;
  setProtocolVersion(version: ProtocolVersion): void;
  /** What CONNECT asked of session expiry (3.1.1 clean=false: the edge's limit), and what it got. */
  readonly sessionExpiryAsked: number;
  readonly sessionExpirySeconds: number;
  /**
   * CONNECT is in: reading stops until the backend has decided. `cleanStart` and the
   * session expiry say whether a kept session is taken back and this one kept after.
   */
  beginAuthentication(
    keepAliveSeconds: number,
    cleanStart: boolean,
    sessionExpiry: { asked: number; granted: number },
  ): void;
  /** The backend accepted the device: CONNACK (saying whether a kept session resumed) and open. */
  accept(device: DeviceId, connackFor: (sessionPresent: boolean) => Packet): void;
  /** MQTT 5 DISCONNECT changing the expiry; false when CONNECT asked for none (§3.14.2.2.2). */
  changeSessionExpiry(seconds: number): boolean;
  inflightStarted(): void;
  inflightSettled(messageId: number, acknowledged: boolean): void;
  warnOnce(warning: OnceWarning, fields: object, message: string): void;
  /** Rate-limited across the edge: errors any session can hit on every packet. */
  logError(fields: object, msg: string): void;
}

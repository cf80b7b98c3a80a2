import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { type DeviceId, type DialectName, deviceKey, topicMatches } from "@umbra/dialects";
import { type Logger, limitedLog } from "@umbra/runtime";
import { parser as createParser, generate, type Packet, type Parser } from "mqtt-packet";
import type { AuthThrottle } from "./authThrottle.js";
import type { DeviceSession, EdgeBackend } from "./backend.js";
import { Reason } from "./codes.js";
import { INCOMPLETE, MALFORMED, packetLength } from "./framing.js";
import type {
  HandlerSession,
  OnceWarning,
  ProtocolVersion,
  SessionState,
} from "./handlerSession.js";
import { handlePacket, screenConnect } from "./handlers/index.js";
import { handlePublish } from "./handlers/publish.js";
import { mayHoldFilter } from "./handlers/subscribe.js";
import type { EdgeLimits } from "./limits.js";
import type { DialectTraffic, EdgeMetrics } from "./metrics.js";
import type { PersistentSessions } from "./persistentSessions.js";
import { readPublish, writePublishQos0 } from "./publishCodec.js";
import { checkPacket } from "./strict.js";
import { clientCertificate } from "./tlsListener.js";

/** A DeviceSession of this edge, with what it knows about its own back-pressure. */
export interface EdgeSession extends DeviceSession {
  /** 3, 4 (3.1.1) or 5; 0 before CONNECT. */
  readonly protocolVersion: ProtocolVersion | 0;
  /** Bytes written to the socket and not yet taken by the kernel. */
  readonly outboundBytes: number;
  /** Deliveries dropped because the device read too slowly (or its packet limit). */
  readonly droppedDeliveries: number;
  /** Silence after which the edge closes the session: 1.5 × the keep-alive; 0 never. */
  readonly keepAliveMs: number;
  /** How long the edge keeps the session's subscriptions once it ends (0: not at all). */
  readonly sessionExpirySeconds: number;
}

export type { OnceWarning, ProtocolVersion, SessionState };

/** What every session of one server shares. */
export interface SessionContext {
  readonly backend: EdgeBackend;
  readonly logger: Logger;
  readonly limits: EdgeLimits;
  readonly metrics: EdgeMetrics;
  /** Failed authentications of this server's clients, per address and client id. */
  readonly authThrottle: AuthThrottle;
  /** Where a session counts its PUBLISH packets in and out, until it knows its dialect. */
  readonly traffic: DialectTraffic;
  /** Subscriptions of this server's ended persistent sessions, for their devices' return. */
  readonly persistentSessions: PersistentSessions;
  /** Makes `session` its device's session on this server, closing the one it replaces. */
  register(session: Session): void;
  /** `session` is torn down (whether or not it was ever registered). */
  unregister(session: Session): void;
}

/** Before authentication a session has no device; the backend never sees it then. */
const NO_DEVICE: DeviceId = Object.freeze({ productId: "", deviceName: "" });

/** How long a closing socket may take to flush before it is destroyed. */
const LINGER_MS = 2_000;

/** CONNECT's fixed header first byte: type 1, reserved flags 0 (MQTT §2.2.2). */
const CONNECT_FIRST_BYTE = 0x10;

/**
 * One MQTT connection: its socket, framing and parser, state, subscriptions, timers,
 * in-flight count and write path. The packet handlers (`handlers/`) implement the
 * protocol on top of the operations here.
 *
 * Why this file stays near 600 lines: inbound framing, flow control (reading held while
 * authenticating or at a full window), keep-alive and connect timers, corked writes and
 * teardown all read and write the same handful of fields on every packet; split into
 * objects they would need those fields passed back and forth (or a reference hop per
 * packet on the hot path) for no new seam. What is separable lives elsewhere: packet
 * handlers (`handlers/`), strict decoding (`strict.ts`), PUBLISH codec
 * (`publishCodec.ts`), persistent sessions (`persistentSessions.ts`).
 */
export class Session implements EdgeSession, HandlerSession {
  readonly id: string = randomUUID();
  device: DeviceId = NO_DEVICE;
  deviceKey = "";
  state: SessionState = "awaiting-connect";
  protocolVersion: ProtocolVersion | 0 = 0;
  log: Logger;
  /** Subscribed filters; every grant is QoS 0 so the filter is all there is to keep. */
  readonly subscriptions = new Set<string>();
  /** QoS 1 publishes handed to the backend and not yet settled. */
  inflight = 0;
  droppedDeliveries = 0;
  /** The client's MQTT 5 Maximum Packet Size: nothing larger may be sent to it. */
  clientMaxPacketBytes = Number.POSITIVE_INFINITY;
  /** PUBLISH counters of the session's dialect. */
  traffic: DialectTraffic;
  /** The dialect and Plug and Play model id of the CONNECT, once authenticated. */
  dialect: DialectName | undefined = undefined;
  modelId: string | undefined = undefined;

  private readonly parser: Parser = createParser();
  /** Bytes received and not yet framed into a packet. */
  private inbound: Buffer | undefined;
  /** Chunks of a packet still arriving, joined once `awaitedBytes` are here. */
  private inboundParts: Buffer[] = [];
  private inboundPartsBytes = 0;
  private awaitedBytes = 0;
  private socketPaused = false;
  /** Set while pumpInbound runs: the parser must not be re-entered from a handler. */
  private pumping = false;

  private generateOptions: { protocolVersion: ProtocolVersion } = { protocolVersion: 4 };
  private corked = false;

  keepAliveMs = 0;
  /** CONNECT asked to start afresh (3.1.1 cleanSession, MQTT 5 Clean Start). */
  private cleanStart = true;
  /** What CONNECT asked for (3.1.1 clean=false: the edge's limit), and what it was granted. */
  sessionExpiryAsked = 0;
  sessionExpirySeconds = 0;
  /** A newer connection of the device on this edge took over: it continues the session. */
  private replacedHere = false;
  private lastReceivedAt = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** backend.opened was called, so backend.closed is owed exactly once. */
  private openedInBackend = false;
  private warned: Set<OnceWarning> | undefined;

  /**
   * Errors that any session can hit on every packet (a backend that throws): rate-limited
   * across the edge, so a broken dependency or a device that triggers a bug cannot flood
   * the log.
   */
  logError(fields: object, msg: string): void {
    limitedLog(this.context.logger).error(
      { session: this.id, device: this.deviceKey, ...fields },
      msg,
    );
  }

  constructor(
    readonly socket: Socket,
    readonly context: SessionContext,
  ) {
    this.log = context.logger.child({ session: this.id });
    this.traffic = context.traffic;
    this.parser.on("packet", (packet: Packet) => handlePacket(this, packet));
    this.parser.on("error", (error: Error) =>
      this.close(Reason.malformedPacket, `malformed packet: ${error.message}`),
    );
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) =>
      this.log.debug({ code: error.code, err: error.message }, "socket error"),
    );
    socket.on("close", () => this.onSocketClosed());
    this.connectTimer = setTimeout(onConnectTimeout, context.limits.connectTimeoutMs, this);
  }

  get outboundBytes(): number {
    return this.socket.writableLength;
  }

  get certificateFingerprint(): string | undefined {
    return clientCertificate(this.socket)?.fingerprint;
  }

  // ---------------------------------------------------------------- DeviceSession

  deliver(topic: string, payload: Uint8Array): boolean {
    if (this.state !== "open" || !this.isSubscribed(topic)) return false;
    if (this.socket.writableLength > this.context.limits.outboundHighWaterBytes) {
      this.droppedDeliveries++;
      this.context.metrics.droppedSlowConsumer.value++;
      this.warnOnce("slow-reader", { topic }, "device reads too slowly, dropping deliveries");
      return false;
    }
    const bytes = writePublishQos0(topic, payload, this.protocolVersion);
    if (bytes.length > this.clientMaxPacketBytes) {
      this.droppedDeliveries++;
      this.context.metrics.droppedTooLarge.value++;
      this.log.debug({ topic, bytes: bytes.length }, "delivery exceeds the client's packet size");
      return false;
    }
    this.write(bytes);
    this.traffic.out.value++;
    return true;
  }

  close(reasonCode: number, why: string): void {
    if (this.state === "closed") return;
    // Taken over by a connection on another edge: the device's session goes on there, so
    // what this edge knows of it would be stale by its return.
    if (reasonCode === Reason.sessionTakenOver && !this.replacedHere) this.sessionExpirySeconds = 0;
    // DISCONNECT exists only in MQTT 5, and only after a CONNACK accepted the client;
    // an MQTT 5 CONNECT refused before that is answered by a CONNACK with the code.
    if (this.protocolVersion === 5 && this.state === "open") this.sendDisconnect(reasonCode, why);
    else if (this.protocolVersion === 5 && this.state === "awaiting-connect") {
      this.refuse({ cmd: "connack", sessionPresent: false, reasonCode }, why);
      return;
    }
    this.end(why);
  }

  // ---------------------------------------------------------- for the handlers

  /** Ends the connection without a DISCONNECT (the client left, or cannot be told). */
  end(why: string): void {
    if (this.state === "closed") return;
    this.teardown(why);
    // Half-close after the queued packets; a peer that never reads is cut off later.
    this.socket.end();
    this.lingerTimer = setTimeout(destroySocket, LINGER_MS, this.socket);
  }

  send(packet: Packet): void {
    this.write(generate(packet, this.generateOptions));
  }

  /** Settles the protocol version, which the parser and generator follow from now on. */
  setProtocolVersion(version: ProtocolVersion): void {
    this.protocolVersion = version;
    this.generateOptions = { protocolVersion: version };
  }

  /**
   * CONNECT is in: stop reading until the backend has decided. Any keep-alive MQTT can
   * express (up to 65 535 s, ~27 h of silence) fits a timer: none is refused or lowered.
   */
  beginAuthentication(
    keepAliveSeconds: number,
    cleanStart: boolean,
    sessionExpiry: { asked: number; granted: number },
  ): void {
    this.state = "authenticating";
    this.keepAliveMs = keepAliveSeconds * 1500; // MQTT §3.1.2.10: one and a half times
    this.cleanStart = cleanStart;
    this.sessionExpiryAsked = sessionExpiry.asked;
    this.sessionExpirySeconds = sessionExpiry.granted;
  }

  /** A newer connection of the device on this edge replaces this one. */
  replacedOnThisEdge(): void {
    this.replacedHere = true;
    this.close(Reason.sessionTakenOver, "session taken over");
  }

  /**
   * The backend accepted the device: take over its older local session, resume the
   * persistent session this edge kept for it (unless a clean start), CONNACK, tell the
   * backend, restore the subscriptions, start the keep-alive clock and read what waited
   * behind CONNECT (so it sees the restored subscriptions).
   */
  accept(device: DeviceId, connackFor: (sessionPresent: boolean) => Packet): void {
    if (this.state !== "authenticating") return;
    this.clearConnectTimer();
    this.device = device;
    this.deviceKey = deviceKey(device);
    this.log = this.log.child({ device: this.deviceKey });
    this.state = "open";
    this.context.metrics.connectsAccepted.value++;
    // An older session here ends first, keeping its subscriptions if it was persistent.
    this.context.register(this);
    const persistent = this.context.persistentSessions;
    let kept: readonly string[] | undefined;
    if (this.cleanStart) persistent.discard(this.deviceKey);
    else kept = persistent.take(this.deviceKey);
    this.send(connackFor(kept !== undefined));
    this.openedInBackend = true;
    try {
      this.context.backend.opened(this);
      // After opened: the backend knows a gateway's sub-devices only from then on.
      if (kept !== undefined) this.restoreSubscriptions(kept);
    } catch (error) {
      this.logError({ err: error }, "backend failed on a new session");
      this.close(Reason.implementationSpecificError, "backend failure");
      return;
    }
    this.lastReceivedAt = Date.now();
    if (this.keepAliveMs > 0)
      this.keepAliveTimer = setTimeout(onKeepAliveTimer, this.keepAliveMs, this);
    this.pumpInbound();
  }

  /**
   * The kept filters the topic ACL still allows (a gateway may have lost a sub-device
   * meanwhile) become this session's; the backend hears of them as of a SUBSCRIBE.
   * Length and syntax were checked when they were granted, under the same limits.
   */
  private restoreSubscriptions(filters: readonly string[]): void {
    const restored = filters.filter((filter) => mayHoldFilter(this, filter));
    for (const filter of restored) this.subscriptions.add(filter);
    if (restored.length < filters.length)
      this.log.debug(
        { dropped: filters.filter((filter) => !this.subscriptions.has(filter)) },
        "kept subscriptions no longer allowed, not restored",
      );
    if (restored.length > 0) this.context.backend.subscribed?.(this, restored);
  }

  /**
   * MQTT 5 DISCONNECT may change how long the session is kept; a client that asked for
   * none at CONNECT may not ask for some now (§3.14.2.2.2). Returns false then.
   */
  changeSessionExpiry(seconds: number): boolean {
    if (seconds > 0 && this.sessionExpiryAsked === 0) return false;
    this.sessionExpirySeconds = Math.min(seconds, this.context.limits.sessionExpirySeconds);
    return true;
  }

  /** Sends a refusing CONNACK and hangs up. */
  refuse(connack: Packet, why: string): void {
    if (this.state === "closed") return;
    this.context.metrics.connectsRefused.value++;
    this.send(connack);
    this.end(why);
  }

  /** A QoS 1 publish went to the backend. */
  inflightStarted(): void {
    this.inflight++;
  }

  /** The backend settled a QoS 1 publish; PUBACK it if the cluster has it. */
  inflightSettled(messageId: number, acknowledged: boolean): void {
    this.inflight--;
    if (this.state !== "open") return;
    if (acknowledged) {
      this.send(
        this.protocolVersion === 5
          ? { cmd: "puback", messageId, reasonCode: Reason.success }
          : { cmd: "puback", messageId },
      );
    } else {
      // MQTT clients retransmit an unacknowledged QoS 1 publish only when they
      // reconnect: closing the session is what makes the device send it again (DUP).
      this.context.metrics.commandTimeouts.value++;
      this.log.debug({ messageId }, "backend gave up on a QoS 1 publish; no PUBACK");
      this.close(Reason.serverBusy, "a QoS 1 publish could not be processed in time");
      return;
    }
    // A paused 3.1.1 flood resumes as soon as there is room.
    if (this.socketPaused) this.pumpInbound();
  }

  warnOnce(warning: OnceWarning, fields: object, message: string): void {
    if (this.warned?.has(warning)) {
      this.log.debug(fields, message);
      return;
    }
    this.warned ??= new Set();
    this.warned.add(warning);
    this.log.warn(fields, message);
  }

  // ------------------------------------------------------------------- inbound

  private onData(chunk: Buffer): void {
    if (this.state === "closed") return; // draining a closing socket
    this.lastReceivedAt = Date.now();
    if (this.inbound === undefined) {
      this.inbound = chunk;
    } else {
      // Join chunks only once the packet they belong to is complete, so a large
      // packet arriving in many chunks is copied once, not once per chunk.
      this.inboundParts.push(chunk);
      this.inboundPartsBytes += chunk.length;
      if (this.inbound.length + this.inboundPartsBytes < this.awaitedBytes) return;
      this.inboundParts.unshift(this.inbound);
      this.inbound = Buffer.concat(this.inboundParts, this.inbound.length + this.inboundPartsBytes);
      this.inboundParts = [];
      this.inboundPartsBytes = 0;
    }
    this.pumpInbound();
  }

  /** Reading stops while authenticating, and for 3.1.1 while the in-flight window is full. */
  private readingHeld(): boolean {
    return (
      this.state === "authenticating" ||
      (this.protocolVersion !== 5 && this.inflight >= this.context.limits.maxInflight)
    );
  }

  /** Frames and handles buffered packets, one at a time, while reading is allowed. */
  private pumpInbound(): void {
    if (this.pumping) return; // the running pump re-checks the hold after each packet
    this.pumping = true;
    try {
      this.pumpPackets();
    } finally {
      this.pumping = false;
    }
    if (this.state === "closed") return;
    const hold = this.readingHeld();
    if (hold !== this.socketPaused) {
      this.socketPaused = hold;
      if (hold) {
        this.socket.pause();
      } else {
        // The silence while paused was the edge's: restart the keep-alive clock.
        this.lastReceivedAt = Date.now();
        this.socket.resume();
      }
    }
  }

  private pumpPackets(): void {
    const maxPacketBytes = this.context.limits.maxPacketBytes;
    while (this.inbound !== undefined && this.state !== "closed" && !this.readingHeld()) {
      const buffered = this.inbound;
      const size = packetLength(buffered);
      // Before CONNECT the client is unknown: refuse anything but a CONNECT fixed header
      // of modest size at once, instead of buffering it until the connect timeout.
      if (this.state === "awaiting-connect" && !this.screenFirstPacket(buffered, size)) return;
      if (size === INCOMPLETE) {
        this.awaitedBytes = 0; // join the next chunk whatever its size
        break;
      }
      if (size === MALFORMED) {
        this.close(Reason.malformedPacket, "malformed remaining length");
        return;
      }
      if (size > maxPacketBytes) {
        this.close(Reason.packetTooLarge, `packet of ${size} bytes exceeds ${maxPacketBytes}`);
        return;
      }
      if (buffered.length < size) {
        this.awaitedBytes = size;
        break;
      }
      this.awaitedBytes = 0;
      this.inbound = size === buffered.length ? undefined : buffered.subarray(size);
      const packet = size === buffered.length ? buffered : buffered.subarray(0, size);
      if (this.state === "awaiting-connect" && !screenConnect(this, packet)) return;
      try {
        const publish =
          this.state === "open" && packet[0] !== undefined && packet[0] >> 4 === 3
            ? readPublish(packet, this.protocolVersion)
            : undefined;
        if (publish !== undefined) {
          this.traffic.in.value++;
          handlePublish(this, publish);
        } else {
          // What mqtt-packet would let through (bad UTF-8, truncations, duplicated
          // properties…) is refused on the raw bytes first.
          const violation = checkPacket(packet, this.protocolVersion);
          if (violation !== undefined) {
            this.close(violation.reason, violation.why);
            return;
          }
          this.parser.parse(packet); // emits at most this one packet, synchronously
        }
      } catch (error) {
        this.logError({ err: error }, "packet handler failed");
        this.close(Reason.implementationSpecificError, "internal error");
        return;
      }
    }
  }

  /** Whether the start of the first packet may be a CONNECT; ends the connection if not. */
  private screenFirstPacket(buffered: Buffer, size: number): boolean {
    if (buffered[0] !== CONNECT_FIRST_BYTE) {
      this.end("first packet is not CONNECT");
      return false;
    }
    const { maxConnectBytes, maxPacketBytes } = this.context.limits;
    const max = Math.min(maxConnectBytes, maxPacketBytes);
    if (size > max) {
      this.end(`CONNECT of ${size} bytes exceeds ${max}`);
      return false;
    }
    return true;
  }

  private isSubscribed(topic: string): boolean {
    if (this.subscriptions.has(topic)) return true;
    for (const filter of this.subscriptions) if (topicMatches(filter, topic)) return true;
    return false;
  }

  // ------------------------------------------------------------------ outbound

  /**
   * Every packet of one event-loop turn goes out in one writev: the socket is corked
   * at the first write of the turn and uncorked on the next tick.
   */
  private write(bytes: Buffer): void {
    if (!this.socket.writable) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncorkSession, this);
    }
    this.socket.write(bytes);
  }

  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  private sendDisconnect(reasonCode: number, why: string): void {
    // mqtt-packet drops the reason string if the client's packet size limit needs it.
    const options = Number.isFinite(this.clientMaxPacketBytes)
      ? { protocolVersion: 5, properties: { maximumPacketSize: this.clientMaxPacketBytes } }
      : this.generateOptions;
    const bytes = generate(
      { cmd: "disconnect", reasonCode, properties: { reasonString: why } },
      options,
    );
    if (bytes.length > 0) this.write(bytes);
  }

  // ----------------------------------------------------------------- lifecycle

  onConnectTimeout(): void {
    this.connectTimer = undefined;
    if (this.state === "authenticating") {
      // The backend is too slow: tell the device to come back later.
      const connack: Packet =
        this.protocolVersion === 5
          ? { cmd: "connack", sessionPresent: false, reasonCode: Reason.serverUnavailable }
          : { cmd: "connack", sessionPresent: false, returnCode: 3 };
      this.refuse(connack, "authentication timed out");
    } else {
      this.end("no CONNECT in time");
    }
  }

  onKeepAliveTimer(): void {
    this.keepAliveTimer = undefined;
    if (this.state !== "open") return;
    const idle = Date.now() - this.lastReceivedAt;
    // While the edge itself stopped reading, silence is the edge's doing.
    if (idle >= this.keepAliveMs && !this.socketPaused) {
      this.close(Reason.keepAliveTimeout, "keep alive timeout");
      return;
    }
    const wait = this.socketPaused ? this.keepAliveMs : this.keepAliveMs - idle;
    this.keepAliveTimer = setTimeout(onKeepAliveTimer, wait, this);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  /** Once per session: stop timers, leave the registry, tell the backend. */
  private teardown(why: string): void {
    if (this.state === "closed") return;
    if (this.state === "open" && this.sessionExpirySeconds > 0)
      this.context.persistentSessions.store(
        this.deviceKey,
        [...this.subscriptions],
        this.sessionExpirySeconds * 1000,
      );
    this.state = "closed";
    this.clearConnectTimer();
    if (this.keepAliveTimer !== undefined) clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    this.subscriptions.clear();
    this.inbound = undefined;
    this.inboundParts = [];
    // Keep reading (and discarding) so the peer's FIN is seen and the socket closes.
    if (this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
    }
    this.context.unregister(this);
    this.log.debug({ why, dropped: this.droppedDeliveries }, "session closed");
    if (this.openedInBackend) {
      this.openedInBackend = false;
      try {
        this.context.backend.closed(this);
      } catch (error) {
        this.logError({ err: error }, "backend.closed failed");
      }
    }
  }

  private onSocketClosed(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.teardown("connection closed");
  }
}

// Timer and tick callbacks take the session as an argument: no closure per use.
const onConnectTimeout = (session: Session): void => session.onConnectTimeout();
const onKeepAliveTimer = (session: Session): void => session.onKeepAliveTimer();
const uncorkSession = (session: Session): void => session.uncork();
const destroySocket = (socket: Socket): void => {
  socket.destroy();
};

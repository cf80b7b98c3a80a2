import {
  type CommandHeader,
  CommandOutbox,
  commandSubject,
  decodeAcks,
  decodeDeliver,
  decodeEdgeDeliver,
  decodeTakeover,
  deviceSubject,
  edgeSubject,
  encodeCommand,
  encodeDelivered,
  encodeGatewayReply,
  encodeTakeover,
  gatewayReplySubject,
  type NatsConnection,
  type OnDropped,
  OUTBOUND_DELIVER,
  OUTBOUND_EDGE_DELIVER,
  OUTBOUND_TAKEOVER,
  OUTBOUND_TOPOLOGY,
  partitionOf,
  publishOrDrop,
  type Subscription,
} from "@umbra/bus";
import {
  DEVICE_DIALECTS,
  type DeviceId,
  type DialectName,
  deviceKey,
  parseDeviceKey,
  recogniseConnect,
} from "@umbra/dialects";
import {
  busDropReporter,
  type LimitedLog,
  type Logger,
  limitedLog,
  natsConnected,
} from "@umbra/runtime";
import type { DeviceRegistry, Presence } from "@umbra/store";
import { revokedFingerprintOf } from "@umbra/tls";
import type {
  AuthResult,
  ConnectCredentials,
  DevicePublish,
  DeviceSession,
  EdgeBackend,
} from "./backend.js";
import {
  authenticateByCertificate,
  type CertificateOutcome,
  usernameIdentity,
} from "./certificateAuth.js";

export interface NatsBackendOptions {
  readonly edgeId: string;
  readonly partitions: number;
  /** Device registry; `undefined` when authentication is off (UMBRA_AUTH=off). */
  readonly registry: DeviceRegistry | undefined;
  /** Where the edge records which devices it holds a session for; none when auth is off. */
  readonly presence?: Presence | undefined;
  /** A QoS 1 command not acknowledged after this long is sent again, marked DUP. */
  readonly retryAfterMs: number;
  /** …and given up after this long: no PUBACK, the device retransmits. */
  readonly deadlineMs: number;
  readonly now?: () => number;
}

interface SessionEntry {
  readonly session: DeviceSession;
  readonly sub: Subscription;
  /** A gateway's sub-devices and its subscriptions to their device subjects. */
  readonly subDevices: Map<string, Subscription>;
}

interface Pending {
  readonly subject: string;
  readonly header: CommandHeader;
  readonly payload: Uint8Array;
  readonly firstSentAt: number;
  lastSentAt: number;
  readonly resolve: (processed: boolean) => void;
}

/** The registry could not be asked: not the client's failure (CONNACK 3 / 0x88). */
const unreachable = (e: unknown): AuthResult => ({
  ok: false,
  refusal: "unavailable",
  detail: `device registry unreachable: ${e instanceof Error ? e.message : String(e)}`,
});

/** MQTT 5 reason: another connection took the session over. */
const SESSION_TAKEN_OVER = 0x8e;
/** MQTT 5 reason: the session's credentials are no longer valid. */
const NOT_AUTHORIZED = 0x87;

/**
 * The edge's side of the bus: device authentication against the registry, topics
 * onto partition subjects, QoS 1 acks from the shards, and deliveries and take-overs
 * on each connected device's subject.
 */
export class NatsBackend implements EdgeBackend {
  readonly #nc: NatsConnection;
  readonly #outbox: CommandOutbox;
  readonly #logger: Logger;
  /** Per-message warnings, rate-limited (with no shard serving, one per ack or command). */
  readonly #log: LimitedLog;
  readonly #dropped: OnDropped;
  readonly #options: NatsBackendOptions;
  readonly #now: () => number;
  /** This edge's inbox: acks from shards, answers to its devices from the reply service. */
  readonly #inbox: string;
  readonly #pending = new Map<number, Pending>();
  readonly #sessions = new Map<string, SessionEntry>();
  /** The live session of each device key on this edge. */
  readonly #byDevice = new Map<string, DeviceSession>();
  /** Gateway sessions on this edge by the sub-device keys they act for (seed 003). */
  readonly #actingFor = new Map<string, DeviceSession>();
  /**
   * Sub-devices read while authenticating a gateway, taken by `opened` (keyed by device
   * key): read before CONNACK so that the gateway's first SUBSCRIBE already sees them.
   */
  readonly #subDevicesAtConnect = new Map<string, readonly string[]>();
  #inboxSub: Subscription | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #presenceRenewal: NodeJS.Timeout | undefined;
  #presenceFailing = false;
  /**
   * Correlation ids start at random: shards remember them (with the packet id) to spot a
   * re-sent command, so a restarted edge with the same EDGE_ID must not reuse them.
   */
  #corr = Math.floor(Math.random() * 0x1_0000_0000);

  constructor(nc: NatsConnection, logger: Logger, options: NatsBackendOptions) {
    this.#nc = nc;
    this.#dropped = busDropReporter(logger);
    this.#outbox = new CommandOutbox(nc, this.#dropped);
    this.#logger = logger;
    this.#log = limitedLog(logger);
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#inbox = edgeSubject(options.edgeId);
  }

  start(): void {
    this.#inboxSub = this.#nc.subscribe(this.#inbox, {
      callback: (error, msg) => {
        if (error !== null) {
          this.#log.error({ err: error.message }, "inbox subscription failed");
          return;
        }
        if (msg.data[0] === OUTBOUND_EDGE_DELIVER) {
          // After the acks of this read: a QoS 1 request's PUBACK (sent when its ack's
          // promise settles, one microtask on) goes out before the answer to it.
          const frame = msg.data;
          queueMicrotask(() => this.#deliverToDevices(frame));
          return;
        }
        let corrs: readonly number[];
        try {
          corrs = decodeAcks(msg.data);
        } catch {
          this.#log.warn({}, "unreadable ack dropped");
          return;
        }
        for (const corr of corrs) {
          const pending = this.#pending.get(corr);
          if (pending === undefined) continue; // already given up on, or a repeated ack
          this.#pending.delete(corr);
          pending.resolve(true);
        }
      },
    });
    const every = Math.max(50, Math.min(this.#options.retryAfterMs, 1_000) / 2);
    this.#sweep = setInterval(() => this.#retry(), every);
    this.#sweep.unref();
    const presence = this.#options.presence;
    if (presence !== undefined) {
      this.#presenceRenewal = setInterval(() => {
        for (const { session } of this.#sessions.values())
          this.#present(presence.online(session.deviceKey, this.#presenceOf(session)));
      }, presence.renewEveryMs);
      this.#presenceRenewal.unref();
    }
  }

  #presenceOf(session: DeviceSession): string {
    return `${this.#options.edgeId}:${session.id}`;
  }

  /** Presence is advisory (isOnline of function calls): a failure is logged once per outage. */
  #present(write: Promise<void>): void {
    write.then(
      () => {
        this.#presenceFailing = false;
      },
      (e: unknown) => {
        if (this.#presenceFailing) return;
        this.#presenceFailing = true;
        this.#logger.warn(
          { err: e instanceof Error ? e.message : String(e) },
          "device presence not recorded",
        );
      },
    );
  }

  /** Gives up on every QoS 1 command still waiting (no PUBACK) and stops listening. */
  async stop(): Promise<void> {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    if (this.#presenceRenewal !== undefined) clearInterval(this.#presenceRenewal);
    const presence = this.#options.presence;
    if (presence !== undefined)
      await Promise.allSettled(
        [...this.#sessions.values()].map(({ session }) =>
          presence.offline(session.deviceKey, this.#presenceOf(session)),
        ),
      );
    for (const pending of this.#pending.values()) pending.resolve(false);
    this.#pending.clear();
    this.#inboxSub?.unsubscribe();
    for (const entry of this.#sessions.values()) {
      entry.sub.unsubscribe();
      for (const proxy of entry.subDevices.values()) proxy.unsubscribe();
    }
    this.#sessions.clear();
    this.#actingFor.clear();
    this.#byDevice.clear();
    this.#outbox.flush();
    // A connection already gone has nothing left to flush.
    await this.#nc.flush().catch(() => undefined);
  }

  async authenticate(credentials: ConnectCredentials): Promise<AuthResult> {
    const { clientId, password, certificate } = credentials;
    const registry = this.#options.registry;
    // A client certificate (TLS) may settle who the device is, with no password.
    let byCertificate: CertificateOutcome | undefined;
    if (certificate !== undefined && registry !== undefined) {
      try {
        byCertificate = await authenticateByCertificate(
          registry,
          certificate,
          clientId,
          usernameIdentity(credentials.username),
          this.#now(),
        );
      } catch (e) {
        return unreachable(e);
      }
      if (byCertificate !== undefined && !byCertificate.ok) return byCertificate;
    }
    let device: DeviceId;
    let dialect: DialectName | undefined;
    if (byCertificate?.ok === true) device = byCertificate.device;
    else {
      // A certificate that settled nothing, and no password: the certificate is refused.
      if (
        certificate !== undefined &&
        registry !== undefined &&
        (password === undefined || password.length === 0)
      )
        return {
          ok: false,
          refusal: "not-authorized",
          detail: "client certificate neither registered nor CA-signed, and no password",
        };
      // The dialect whose CONNECT form this is says who the device claims to be.
      const claim = recogniseConnect(clientId, credentials.username ?? "");
      if (!claim.ok)
        return {
          ok: false,
          refusal: claim.badClientId === true ? "bad-client-id" : "bad-credentials",
          detail: claim.reason,
        };
      device = claim.identity;
      dialect = claim.dialect;
      if (registry === undefined) return { ok: true, device, dialect };
      if (password === undefined || password.length === 0)
        return { ok: false, refusal: "bad-credentials", detail: "password missing" };
      let record: Awaited<ReturnType<DeviceRegistry["get"]>>;
      try {
        record = await registry.get(deviceKey(device));
      } catch (e) {
        return unreachable(e);
      }
      if (record === undefined)
        return { ok: false, refusal: "not-authorized", detail: "device not registered" };
      const problem = claim.verify(password, record.key, this.#now());
      if (problem !== undefined) return { ok: false, refusal: "bad-credentials", detail: problem };
    }
    if (registry === undefined) return { ok: true, device, dialect };
    try {
      const subs = await registry.subDevices(deviceKey(device));
      if (subs.length > 0) this.#subDevicesAtConnect.set(deviceKey(device), subs);
    } catch (e) {
      return unreachable(e);
    }
    return { ok: true, device, dialect };
  }

  opened(session: DeviceSession): void {
    const { productId, deviceName } = session.device;
    const subject = deviceSubject(productId, deviceName);
    const sub = this.#nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error !== null) return;
        const frame = msg.data;
        if (frame[0] === OUTBOUND_DELIVER) {
          let messages: ReturnType<typeof decodeDeliver>;
          try {
            messages = decodeDeliver(frame);
          } catch {
            this.#log.warn({ device: session.deviceKey }, "unreadable delivery dropped");
            return;
          }
          let delivered = true;
          for (const m of messages) delivered = session.deliver(m.topic, m.payload) && delivered;
          // A gateway call (seed 003) asks whether its session took it.
          if (msg.reply !== undefined && msg.reply !== "")
            publishOrDrop(
              this.#nc,
              msg.reply,
              encodeDelivered(delivered),
              undefined,
              this.#dropped,
            );
        } else if (frame[0] === OUTBOUND_TAKEOVER) {
          const by = decodeTakeover(frame);
          const revoked = revokedFingerprintOf(by);
          if (revoked !== undefined) {
            // The API revoked a certificate: only the sessions that presented it end.
            if (session.certificateFingerprint === revoked)
              session.close(NOT_AUTHORIZED, "client certificate revoked");
          } else if (by !== session.id)
            session.close(SESSION_TAKEN_OVER, "session taken over by a newer connection");
        } else if (frame[0] === OUTBOUND_TOPOLOGY) {
          this.#reloadSubDevices(session);
        }
      },
    });
    const entry: SessionEntry = { session, sub, subDevices: new Map() };
    this.#sessions.set(session.id, entry);
    this.#byDevice.set(session.deviceKey, session);
    const subs = this.#subDevicesAtConnect.get(session.deviceKey);
    this.#subDevicesAtConnect.delete(session.deviceKey);
    this.#setSubDevices(entry, subs ?? []);
    const presence = this.#options.presence;
    if (presence !== undefined)
      this.#present(presence.online(session.deviceKey, this.#presenceOf(session)));
    // Any other edge holding this device closes its older session.
    publishOrDrop(this.#nc, subject, encodeTakeover(session.id), undefined, this.#dropped);
  }

  /**
   * A device that subscribes to its image's deltas is sent a function call queued while
   * it was away, through a `sync` command: the shard answers with the document, the
   * reply service with the delta if a call is waiting (nothing otherwise).
   */
  subscribed(session: DeviceSession, filters: readonly string[]): void {
    this.#syncIfDeltas(session.device, filters);
    const entry = this.#sessions.get(session.id);
    if (entry === undefined) return;
    for (const key of entry.subDevices.keys()) {
      const device = parseDeviceKey(key);
      if (device !== undefined) this.#syncIfDeltas(device, filters);
    }
  }

  #syncIfDeltas(device: DeviceId, filters: readonly string[]): void {
    for (const dialect of DEVICE_DIALECTS) {
      if (dialect.syncOnSubscribe?.(device, filters) !== true) continue;
      const key = deviceKey(device);
      const header: CommandHeader = {
        op: "sync",
        device: key,
        dialect: dialect.name,
        source: "device",
      };
      this.#outbox.publish(
        commandSubject(partitionOf(key, this.#options.partitions)),
        encodeCommand(header, new Uint8Array(0)),
        this.#inbox,
      );
    }
  }

  closed(session: DeviceSession): void {
    const entry = this.#sessions.get(session.id);
    if (entry === undefined) return;
    entry.sub.unsubscribe();
    this.#setSubDevices(entry, []);
    this.#sessions.delete(session.id);
    if (this.#byDevice.get(session.deviceKey) === session) this.#byDevice.delete(session.deviceKey);
    const presence = this.#options.presence;
    // Only this session's: a take-over elsewhere has written its own.
    if (presence !== undefined)
      this.#present(presence.offline(session.deviceKey, this.#presenceOf(session)));
  }

  /**
   * Answers to requests this edge forwarded, several devices' in one frame. A device
   * whose session is gone meanwhile has no one to read them: they are dropped.
   */
  #deliverToDevices(frame: Uint8Array): void {
    let devices: ReturnType<typeof decodeEdgeDeliver>;
    try {
      devices = decodeEdgeDeliver(frame);
    } catch {
      this.#log.warn({}, "unreadable edge delivery dropped");
      return;
    }
    for (const { device, messages } of devices) {
      const session = this.#byDevice.get(device);
      if (session !== undefined) for (const m of messages) session.deliver(m.topic, m.payload);
      // A gateway subscribed to its sub-device's topics gets them too.
      const gateway = this.#actingFor.get(device);
      if (gateway !== undefined) for (const m of messages) gateway.deliver(m.topic, m.payload);
    }
  }

  actsFor(session: DeviceSession, device: DeviceId): boolean {
    return this.#sessions.get(session.id)?.subDevices.has(deviceKey(device)) === true;
  }

  /** The API changed the gateway's sub-devices: read them again. */
  #reloadSubDevices(session: DeviceSession): void {
    const registry = this.#options.registry;
    if (registry === undefined) return;
    registry.subDevices(session.deviceKey).then(
      (subs) => {
        const entry = this.#sessions.get(session.id);
        if (entry !== undefined) this.#setSubDevices(entry, subs);
      },
      (e: unknown) =>
        this.#log.warn(
          { device: session.deviceKey, err: e instanceof Error ? e.message : String(e) },
          "gateway sub-devices not re-read; the session keeps the ones it had",
        ),
    );
  }

  /**
   * Makes `subs` the sub-devices a gateway session acts for: cloud messages to each (its
   * device subject) reach the gateway, and answers to its requests for them come back.
   */
  #setSubDevices(entry: SessionEntry, subs: readonly string[]): void {
    const wanted = new Set(subs);
    for (const [key, proxy] of entry.subDevices) {
      if (wanted.has(key)) continue;
      proxy.unsubscribe();
      entry.subDevices.delete(key);
      if (this.#actingFor.get(key) === entry.session) this.#actingFor.delete(key);
    }
    for (const key of wanted) {
      if (entry.subDevices.has(key)) continue;
      const device = parseDeviceKey(key);
      if (device === undefined) continue;
      const { session } = entry;
      const proxy = this.#nc.subscribe(deviceSubject(device.productId, device.deviceName), {
        callback: (error, msg) => {
          // Deliveries only: a take-over of the sub-device's own session is not the gateway's.
          if (error !== null || msg.data[0] !== OUTBOUND_DELIVER) return;
          let messages: ReturnType<typeof decodeDeliver>;
          try {
            messages = decodeDeliver(msg.data);
          } catch {
            return;
          }
          for (const m of messages) session.deliver(m.topic, m.payload);
        },
      });
      entry.subDevices.set(key, proxy);
      this.#actingFor.set(key, session);
    }
  }

  publish(session: DeviceSession, message: DevicePublish): Promise<boolean> | undefined {
    const { request, payload, qos, packetId, dup } = message;
    if (request.kind === "gateway-reply") {
      // A gateway answering a call: to whichever API process waits for it (by id).
      const { productId, deviceName } = session.device;
      publishOrDrop(
        this.#nc,
        gatewayReplySubject(productId, deviceName),
        encodeGatewayReply(request.call, payload),
        undefined,
        this.#dropped,
      );
      return qos === 1 ? Promise.resolve(true) : undefined;
    }
    if (request.kind === "none") {
      // An own topic that asks nothing of the shadow: nothing to process.
      this.#logger.debug(
        { device: session.deviceKey, topic: message.topic },
        "publish on a topic with no request",
      );
      return qos === 1 ? Promise.resolve(true) : undefined;
    }
    const { op, dialect } = request;
    // The topic's device: the session's own, or a sub-device its gateway acts for.
    const target = request.device;
    const key =
      target.deviceName === session.device.deviceName &&
      target.productId === session.device.productId
        ? session.deviceKey
        : deviceKey(target);
    const subject = commandSubject(partitionOf(key, this.#options.partitions));
    if (qos === 0) {
      // While NATS reconnects the client buffers every publish without bound: a device
      // flooding QoS 0 through an outage is dropped (at most once allows it) and counted.
      if (!natsConnected(this.#nc)) {
        this.#dropped("disconnected", subject, payload.length, "NATS disconnected");
        return undefined;
      }
      const header: CommandHeader = { op, device: key, dialect, source: "device" };
      // The inbox as reply subject tells the reply service where the answers go.
      this.#outbox.publish(subject, encodeCommand(header, payload), this.#inbox);
      return undefined;
    }
    this.#corr = (this.#corr + 1) >>> 0;
    const corr = this.#corr;
    const header: CommandHeader =
      packetId === undefined
        ? { op, device: key, dialect, source: "device", corr }
        : { op, device: key, dialect, source: "device", corr, packetId, dup };
    const frame = encodeCommand(header, payload);
    const now = this.#now();
    return new Promise<boolean>((resolve) => {
      this.#pending.set(corr, {
        subject,
        header,
        payload,
        firstSentAt: now,
        lastSentAt: now,
        resolve,
      });
      this.#outbox.publish(subject, frame, this.#inbox);
    });
  }

  /**
   * Commands not acknowledged in time are sent again marked DUP (the shard applies a
   * command at most once), and given up at the deadline. The map is in send order, so
   * the walk stops at the first command that is still young.
   */
  #retry(): void {
    const now = this.#now();
    const { retryAfterMs, deadlineMs } = this.#options;
    for (const [corr, pending] of this.#pending) {
      if (now - pending.firstSentAt >= deadlineMs) {
        this.#pending.delete(corr);
        this.#log.warn(
          {
            device: pending.header.device,
            corr: pending.header.corr,
            waitedMs: now - pending.firstSentAt,
          },
          "no shard answered a QoS 1 command in time; no PUBACK",
        );
        pending.resolve(false);
        continue;
      }
      if (now - pending.lastSentAt < retryAfterMs) {
        if (now - pending.firstSentAt < retryAfterMs) break;
        continue;
      }
      pending.lastSentAt = now;
      const header: CommandHeader = { ...pending.header, dup: true };
      this.#outbox.publish(pending.subject, encodeCommand(header, pending.payload), this.#inbox);
    }
  }
}

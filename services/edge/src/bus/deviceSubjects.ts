import {
  decodeDeliver,
  decodeEdgeDeliver,
  decodeTakeover,
  deviceSubject,
  encodeDelivered,
  encodeTakeover,
  type NatsConnection,
  type OnDropped,
  publishOrDrop,
  type Subscription,
  Tag,
} from "@umbra/bus";
import type { LimitedLog } from "@umbra/runtime";
import { revokedFingerprintOf } from "@umbra/tls";
import type { DeviceSession } from "../backend.js";
import type { GatewayActingFor } from "./actingFor.js";
import { type AwsRequestWindow, isAwsAnswer } from "./awsRequests.js";

/** MQTT 5 reason: another connection took the session over. */
const SESSION_TAKEN_OVER = 0x8e;
/** MQTT 5 reason: the session's credentials are no longer valid. */
const NOT_AUTHORIZED = 0x87;

interface SubjectEntry {
  readonly session: DeviceSession;
  readonly sub: Subscription;
}

/**
 * Each open session's subscription to its device subject: deliveries from the cloud,
 * take-overs (a newer session of the device anywhere, or a revoked certificate) and
 * topology changes of a gateway; and the answers that come back on the edge's inbox.
 */
export class DeviceSubjects {
  readonly #nc: NatsConnection;
  readonly #dropped: OnDropped;
  readonly #log: LimitedLog;
  readonly #gateways: GatewayActingFor;
  readonly #aws: AwsRequestWindow;
  readonly #entries = new Map<string, SubjectEntry>();
  /** The live session of each device key on this edge. */
  readonly #byDevice = new Map<string, DeviceSession>();

  constructor(
    nc: NatsConnection,
    dropped: OnDropped,
    log: LimitedLog,
    gateways: GatewayActingFor,
    aws: AwsRequestWindow,
  ) {
    this.#nc = nc;
    this.#dropped = dropped;
    this.#log = log;
    this.#gateways = gateways;
    this.#aws = aws;
  }

  /** Every open session. */
  *sessions(): IterableIterator<DeviceSession> {
    for (const entry of this.#entries.values()) yield entry.session;
  }

  /** Delivers a deliver frame's messages; a gateway call (seed 003) asks whether it could. */
  #deliver(session: DeviceSession, frame: Uint8Array, reply: string | undefined): void {
    let messages: ReturnType<typeof decodeDeliver>;
    try {
      messages = decodeDeliver(frame);
    } catch {
      this.#log.warn({ device: session.deviceKey }, "unreadable delivery dropped");
      return;
    }
    let delivered = true;
    for (const m of messages) delivered = session.deliver(m.topic, m.payload) && delivered;
    if (reply !== undefined && reply !== "")
      publishOrDrop(this.#nc, reply, encodeDelivered(delivered), undefined, this.#dropped);
  }

  /**
   * Listens on the session's device subject, which it returns; the session is its
   * device's session on this edge.
   */
  subscribe(session: DeviceSession): string {
    const { productId, deviceName } = session.device;
    const subject = deviceSubject(productId, deviceName);
    const sub = this.#nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error !== null) return;
        const frame = msg.data;
        switch (frame[0]) {
          case Tag.Deliver:
            this.#deliver(session, frame, msg.reply);
            return;
          case Tag.Takeover: {
            const by = decodeTakeover(frame);
            const revoked = revokedFingerprintOf(by);
            if (revoked !== undefined) {
              // The API revoked a certificate: only the sessions that presented it end.
              if (session.certificateFingerprint === revoked)
                session.close(NOT_AUTHORIZED, "client certificate revoked");
            } else if (by !== session.id)
              session.close(SESSION_TAKEN_OVER, "session taken over by a newer connection");
            return;
          }
          case Tag.Topology:
            this.#gateways.reload(session);
            return;
          default:
            this.#log.warn(
              { device: session.deviceKey, tag: frame[0] },
              "unreadable delivery dropped",
            );
        }
      },
    });
    this.#entries.set(session.id, { session, sub });
    this.#byDevice.set(session.deviceKey, session);
    return subject;
  }

  /** Any other edge holding the session's device (on `subject`) closes its older session. */
  takeOver(session: DeviceSession, subject: string): void {
    publishOrDrop(this.#nc, subject, encodeTakeover(session.id), undefined, this.#dropped);
  }

  /** Stops listening for the session; false if it was not listening. */
  unsubscribe(session: DeviceSession): boolean {
    const entry = this.#entries.get(session.id);
    if (entry === undefined) return false;
    this.#aws.forget(session.id);
    entry.sub.unsubscribe();
    this.#entries.delete(session.id);
    if (this.#byDevice.get(session.deviceKey) === session) this.#byDevice.delete(session.deviceKey);
    return true;
  }

  /**
   * Answers to requests this edge forwarded, several devices' in one frame. A device
   * whose session is gone meanwhile has no one to read them: they are dropped.
   */
  deliverAnswers(frame: Uint8Array): void {
    let devices: ReturnType<typeof decodeEdgeDeliver>;
    try {
      devices = decodeEdgeDeliver(frame);
    } catch {
      this.#log.warn({}, "unreadable edge delivery dropped");
      return;
    }
    for (const { device, messages } of devices) {
      const session = this.#byDevice.get(device);
      if (session !== undefined)
        for (const m of messages) {
          // An AWS request's answer ends it in the session's window, delivered or not.
          if (isAwsAnswer(m.topic)) this.#aws.answered(session.id);
          session.deliver(m.topic, m.payload);
        }
      // A gateway subscribed to its sub-device's topics gets them too.
      const gateway = this.#gateways.gatewayOf(device);
      if (gateway !== undefined) for (const m of messages) gateway.deliver(m.topic, m.payload);
    }
  }

  stop(): void {
    for (const entry of this.#entries.values()) entry.sub.unsubscribe();
    this.#entries.clear();
    this.#byDevice.clear();
  }
}

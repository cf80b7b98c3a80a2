import {
  CommandOutbox,
  decodeAcks,
  edgeSubject,
  type NatsConnection,
  type Subscription,
  Tag,
} from "@umbra/bus";
import { type DeviceId, parseDeviceKey } from "@umbra/dialects";
import { busDropReporter, type LimitedLog, type Logger, limitedLog } from "@umbra/runtime";
import type { DeviceRegistry, Presence } from "@umbra/store";
import type {
  AuthResult,
  ConnectCredentials,
  DevicePublish,
  DeviceSession,
  EdgeBackend,
} from "./backend.js";
import { GatewayActingFor } from "./bus/actingFor.js";
import { authenticateDevice } from "./bus/authenticate.js";
import { AwsRequestWindow, DEFAULT_AWS_MAX_INFLIGHT } from "./bus/awsRequests.js";
import { DeviceCommands } from "./bus/commands.js";
import { DeviceSubjects } from "./bus/deviceSubjects.js";
import { PresenceRecorder } from "./bus/presence.js";
import { PendingCommands } from "./bus/retry.js";
import { DeviceTelemetry } from "./bus/telemetry.js";
import { DEFAULT_THING_MAX_PACKS, ThingUploads } from "./bus/thingUploads.js";
import { awsThrottledTotal, telemetryCounters, thingUploadCounters } from "./metrics.js";

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
  /**
   * AWS shadow requests a session may have without an answer (each counts until its
   * answer or `deadlineMs`); past it the edge answers 429. Default 10, as AWS.
   */
  readonly awsMaxInflight?: number | undefined;
  /**
   * The largest OneNET thing upload read at the edge (`event/post`, `pack/post`,
   * `history/post`): the MQTT packet bound. Default 65,536, the edge's default.
   */
  readonly thingMaxPayloadBytes?: number | undefined;
  /** OneNET packs one session may have waiting for their acks (`MQTT_THING_MAX_PACKS`). */
  readonly thingMaxPacks?: number | undefined;
  readonly now?: () => number;
}

/** The edge's default MQTT packet bound (`MQTT_MAX_PACKET_BYTES`). */
const DEFAULT_THING_MAX_PAYLOAD_BYTES = 65_536;

/**
 * The edge's side of the bus, composed of one part per concern (`bus/`): device
 * authentication, presence, each session's device subject (deliveries, take-overs),
 * gateways acting for sub-devices, topics onto partition subjects, and QoS 1 retries.
 * This class routes the edge's inbox (acks, answers) and orders their steps.
 */
export class NatsBackend implements EdgeBackend {
  readonly #nc: NatsConnection;
  readonly #outbox: CommandOutbox;
  /** Per-message warnings, rate-limited (with no shard serving, one per ack or command). */
  readonly #log: LimitedLog;
  readonly #options: NatsBackendOptions;
  readonly #now: () => number;
  /** This edge's inbox: acks from shards, answers to its devices from the reply service. */
  readonly #inbox: string;
  readonly #presence: PresenceRecorder | undefined;
  readonly #gateways: GatewayActingFor;
  readonly #devices: DeviceSubjects;
  readonly #pending: PendingCommands;
  readonly #commands: DeviceCommands;
  readonly #telemetry: DeviceTelemetry;
  readonly #things: ThingUploads;
  #inboxSub: Subscription | undefined;

  constructor(nc: NatsConnection, logger: Logger, options: NatsBackendOptions) {
    this.#nc = nc;
    const dropped = busDropReporter(logger);
    this.#outbox = new CommandOutbox(nc, dropped);
    this.#log = limitedLog(logger);
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#inbox = edgeSubject(options.edgeId);
    this.#presence =
      options.presence === undefined
        ? undefined
        : new PresenceRecorder(options.presence, options.edgeId, logger);
    this.#gateways = new GatewayActingFor(nc, options.registry, this.#log);
    const aws = new AwsRequestWindow({
      max: options.awsMaxInflight ?? DEFAULT_AWS_MAX_INFLIGHT,
      deadlineMs: options.deadlineMs,
      now: this.#now,
      throttled: awsThrottledTotal(),
    });
    this.#devices = new DeviceSubjects(nc, dropped, this.#log, this.#gateways, aws);
    this.#pending = new PendingCommands(this.#outbox, this.#inbox, this.#log, options, this.#now);
    this.#commands = new DeviceCommands(
      nc,
      this.#outbox,
      this.#inbox,
      options.partitions,
      dropped,
      logger,
      this.#pending,
      aws,
    );
    this.#telemetry = new DeviceTelemetry(nc, dropped, this.#log, this.#now, telemetryCounters());
    this.#things = new ThingUploads(
      {
        nc,
        dropped,
        log: this.#log,
        now: this.#now,
        counters: thingUploadCounters(),
        pending: this.#pending,
        partitions: options.partitions,
        mayUse: (session, device) =>
          (device.productId === session.device.productId &&
            device.deviceName === session.device.deviceName) ||
          this.#gateways.actsFor(session, device),
      },
      {
        maxPayloadBytes: options.thingMaxPayloadBytes ?? DEFAULT_THING_MAX_PAYLOAD_BYTES,
        maxPacks: options.thingMaxPacks ?? DEFAULT_THING_MAX_PACKS,
      },
    );
  }

  start(): void {
    this.#inboxSub = this.#nc.subscribe(this.#inbox, {
      callback: (error, msg) => {
        if (error !== null) {
          this.#log.error({ err: error.message }, "inbox subscription failed");
          return;
        }
        const frame = msg.data;
        switch (frame[0]) {
          case Tag.EdgeDeliver:
            // After the acks of this read: a QoS 1 request's PUBACK (sent when its ack's
            // promise settles, one microtask on) goes out before the answer to it.
            queueMicrotask(() => this.#devices.deliverAnswers(frame));
            return;
          case Tag.Acks: {
            let corrs: readonly number[];
            try {
              corrs = decodeAcks(frame);
            } catch (e) {
              this.#log.warn({ err: (e as Error).message }, "unreadable ack dropped");
              return;
            }
            this.#pending.acknowledge(corrs);
            return;
          }
          default:
            // Nothing else comes to an edge's inbox: the same warning, as rate-limited.
            this.#log.warn({ tag: frame[0] }, "unreadable ack dropped");
        }
      },
    });
    this.#presence?.startRenewal(() => this.#devices.sessions());
  }

  /** Gives up on every QoS 1 command still waiting (no PUBACK) and stops listening. */
  async stop(): Promise<void> {
    this.#pending.stopSweeping();
    await this.#presence?.stop(this.#devices.sessions());
    this.#pending.giveUpAll();
    this.#inboxSub?.unsubscribe();
    this.#devices.stop();
    this.#gateways.stop();
    this.#outbox.flush();
    // A connection already gone has nothing left to flush.
    await this.#nc.flush().catch(() => undefined);
  }

  async authenticate(credentials: ConnectCredentials): Promise<AuthResult> {
    const result = await authenticateDevice(this.#options.registry, credentials, this.#now);
    // A gateway's sub-devices are known before CONNACK, for its first SUBSCRIBE.
    return result.ok ? this.#gateways.readAtConnect(result) : result;
  }

  opened(session: DeviceSession): void {
    const subject = this.#devices.subscribe(session);
    this.#gateways.opened(session);
    this.#presence?.online(session);
    // Any other edge holding this device closes its older session.
    this.#devices.takeOver(session, subject);
    // The Plug and Play model the CONNECT named becomes the twin's `$model`.
    const { modelId, dialect } = session;
    if (modelId !== undefined && dialect !== undefined)
      this.#commands.syncModel(session.device, dialect, modelId);
  }

  /** A delta subscription of the session's device, or of a sub-device it acts for, syncs. */
  subscribed(session: DeviceSession, filters: readonly string[]): void {
    this.#commands.syncIfDeltas(session.device, filters);
    const subDevices = this.#gateways.subDevicesOf(session);
    if (subDevices === undefined) return;
    for (const key of subDevices) {
      const device = parseDeviceKey(key);
      if (device !== undefined) this.#commands.syncIfDeltas(device, filters);
    }
  }

  closed(session: DeviceSession): void {
    if (!this.#devices.unsubscribe(session)) return;
    this.#gateways.closed(session);
    this.#presence?.offline(session);
  }

  actsFor(session: DeviceSession, device: DeviceId): boolean {
    return this.#gateways.actsFor(session, device);
  }

  publish(session: DeviceSession, message: DevicePublish): Promise<boolean> | undefined {
    switch (message.request.kind) {
      // Telemetry is no shadow request: the application event stream's, not a shard's.
      case "telemetry":
        return this.#telemetry.publish(session, message);
      // Thing events, history and packs are read here (packs become commands).
      case "thing-upload":
        return this.#things.publish(session, message);
      default:
        return this.#commands.publish(session, message);
    }
  }
}

import {
  type CommandHeader,
  type CommandOutbox,
  commandSubject,
  encodeCommand,
  encodeGatewayReply,
  gatewayReplySubject,
  MAX_TOKEN_BYTES,
  type NatsConnection,
  type OnDropped,
  partitionOf,
  publishOrDrop,
} from "@umbra/bus";
import {
  awsAnswerTopic,
  awsNamedShadowOf,
  DEVICE_DIALECTS,
  type DeviceDialect,
  type DeviceId,
  type DialectName,
  deviceKey,
} from "@umbra/dialects";
import { type Logger, natsConnected } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../backend.js";
import { type AwsRequestWindow, awsTooManyRequestsBody } from "./awsRequests.js";
import type { PendingCommands, QosOneHeader } from "./retry.js";

/**
 * A device's PUBLISH, its topic already read into a request, as a command on the
 * partition subject of the device it names; and the `sync` command a delta
 * subscription asks for. An AWS request past its session's window of unanswered ones
 * is answered 429 here and not sent.
 */
/** A sync whose dialect has nothing to say about it. */
const NO_PAYLOAD = new Uint8Array(0);

export class DeviceCommands {
  readonly #nc: NatsConnection;
  readonly #outbox: CommandOutbox;
  /** The reply subject of every command: where acks and answers come back. */
  readonly #inbox: string;
  readonly #partitions: number;
  readonly #dropped: OnDropped;
  readonly #logger: Logger;
  readonly #pending: PendingCommands;
  readonly #aws: AwsRequestWindow;
  /** Asked which filters want a `sync`: the registry's, a test's own. */
  readonly #dialects: readonly DeviceDialect[];

  constructor(
    nc: NatsConnection,
    outbox: CommandOutbox,
    inbox: string,
    partitions: number,
    dropped: OnDropped,
    logger: Logger,
    pending: PendingCommands,
    aws: AwsRequestWindow,
    dialects: readonly DeviceDialect[] = DEVICE_DIALECTS,
  ) {
    this.#nc = nc;
    this.#outbox = outbox;
    this.#inbox = inbox;
    this.#partitions = partitions;
    this.#dropped = dropped;
    this.#logger = logger;
    this.#pending = pending;
    this.#aws = aws;
    this.#dialects = dialects;
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
    if (request.kind !== "command") {
      // An own topic that asks nothing of the shadow: nothing to process. (Telemetry is
      // the application event stream's and thing uploads are read at the edge:
      // `NatsBackend` hands them to `DeviceTelemetry` and `ThingUploads`.)
      this.#logger.debug(
        { device: session.deviceKey, topic: message.topic },
        "publish on a topic with no request",
      );
      return qos === 1 ? Promise.resolve(true) : undefined;
    }
    const { op, dialect, shadow, token } = request;
    // The dialects bound their tokens (Azure's `$rid`: 128 characters) well below what a
    // header carries; one past it would make the encoder throw out of this call.
    if (token !== undefined && Buffer.byteLength(token, "utf8") > MAX_TOKEN_BYTES) {
      this.#logger.warn(
        { device: session.deviceKey, topic: message.topic },
        "topic token longer than a command carries: publish dropped",
      );
      // Acknowledged: a device sending it again would only be dropped again.
      return qos === 1 ? Promise.resolve(true) : undefined;
    }
    // The topic's device: the session's own, or a sub-device its gateway acts for.
    const target = request.device;
    const key =
      target.deviceName === session.device.deviceName &&
      target.productId === session.device.productId
        ? session.deviceKey
        : deviceKey(target);
    const subject = commandSubject(partitionOf(key, this.#partitions));
    if (qos === 0) {
      // While NATS reconnects the client buffers every publish without bound: a device
      // flooding QoS 0 through an outage is dropped (at most once allows it) and counted.
      if (!natsConnected(this.#nc)) {
        this.#dropped("disconnected", subject, payload.length, "NATS disconnected");
        return undefined;
      }
      if (dialect === "aws" && !this.#aws.tryOpen(session.id)) {
        this.#tooManyRequests(session, message);
        return undefined;
      }
      const header: CommandHeader = { op, device: key, dialect, source: "device", shadow, token };
      // The inbox as reply subject tells the reply service where the answers go.
      this.#outbox.publish(subject, encodeCommand(header, payload), this.#inbox);
      return undefined;
    }
    if (dialect === "aws" && !this.#aws.tryOpen(session.id)) {
      // Received and answered: PUBACK, else the device would send it again and again.
      this.#tooManyRequests(session, message);
      return Promise.resolve(true);
    }
    const corr = this.#pending.nextCorr();
    const header: QosOneHeader =
      packetId === undefined
        ? { op, device: key, dialect, source: "device", corr, shadow, token }
        : { op, device: key, dialect, source: "device", corr, packetId, dup, shadow, token };
    return this.#pending.send(subject, header, payload);
  }

  /**
   * An AWS request past the session's window: `P/{op}/rejected` 429, in the next turn
   * so that a QoS 1 request's PUBACK goes out before it, as the shard's answers do.
   */
  #tooManyRequests(session: DeviceSession, message: DevicePublish): void {
    const { request, payload } = message;
    if (request.kind !== "command") return;
    const op = request.op === "get" || request.op === "delete" ? request.op : "update";
    const topic = awsAnswerTopic(session.device.deviceName, request.shadow, `${op}/rejected`);
    const body = awsTooManyRequestsBody(op, payload, this.#aws.now());
    this.#logger.debug({ device: session.deviceKey, topic }, "AWS request past the window: 429");
    setImmediate(() => session.deliver(topic, Buffer.from(body)));
  }

  /**
   * A device that subscribes to its image's deltas is sent a function call queued while
   * it was away, through a `sync` command: the shard answers with the document, the
   * reply service with the delta if a call is waiting (nothing otherwise). Each dialect
   * whose `syncOnSubscribe` wants it gets one, in its own dialect, per shadow the
   * filters name: an AWS filter `…/shadow/name/{shadow}/…` asks for that named shadow,
   * every other filter for the classic one.
   */
  syncIfDeltas(device: DeviceId, filters: readonly string[]): void {
    let classic: string[] | undefined;
    let named: Map<string, string[]> | undefined;
    for (const filter of filters) {
      const shadow = awsNamedShadowOf(filter);
      if (shadow === undefined) {
        classic ??= [];
        classic.push(filter);
      } else {
        named ??= new Map();
        const group = named.get(shadow);
        if (group === undefined) named.set(shadow, [filter]);
        else group.push(filter);
      }
    }
    if (classic !== undefined) this.#syncShadow(device, undefined, classic);
    if (named !== undefined)
      for (const [shadow, group] of named) this.#syncShadow(device, shadow, group);
  }

  /**
   * The Plug and Play model id a device announced at CONNECT (Azure `&model-id=`), sent
   * once its session is open as a `sync` in the dialect it connected in, the model id
   * as payload: the shard records it as the twin's `$model`. The inbox is the reply
   * subject, as for any sync, so what the shard answers reaches the device.
   */
  syncModel(device: DeviceId, dialect: DialectName, modelId: string): void {
    const key = deviceKey(device);
    const header: CommandHeader = { op: "sync", device: key, dialect, source: "device" };
    this.#outbox.publish(
      commandSubject(partitionOf(key, this.#partitions)),
      encodeCommand(header, Buffer.from(modelId, "utf8")),
      this.#inbox,
    );
  }

  #syncShadow(device: DeviceId, shadow: string | undefined, filters: readonly string[]): void {
    for (const dialect of this.#dialects) {
      if (dialect.syncOnSubscribe?.(device, filters) !== true) continue;
      const key = deviceKey(device);
      const header: CommandHeader = {
        op: "sync",
        device: key,
        dialect: dialect.name,
        source: "device",
        ...(shadow === undefined ? {} : { shadow }),
      };
      this.#outbox.publish(
        commandSubject(partitionOf(key, this.#partitions)),
        encodeCommand(header, dialect.syncPayload?.(device, filters) ?? NO_PAYLOAD),
        this.#inbox,
      );
    }
  }
}

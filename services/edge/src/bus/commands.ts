import {
  type CommandHeader,
  type CommandOutbox,
  commandSubject,
  encodeCommand,
  encodeGatewayReply,
  gatewayReplySubject,
  type NatsConnection,
  type OnDropped,
  partitionOf,
  publishOrDrop,
} from "@umbra/bus";
import { DEVICE_DIALECTS, type DeviceId, deviceKey } from "@umbra/dialects";
import { type Logger, natsConnected } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../backend.js";
import type { PendingCommands, QosOneHeader } from "./retry.js";

/**
 * A device's PUBLISH, its topic already read into a request, as a command on the
 * partition subject of the device it names; and the `sync` command a delta
 * subscription asks for.
 */
export class DeviceCommands {
  readonly #nc: NatsConnection;
  readonly #outbox: CommandOutbox;
  /** The reply subject of every command: where acks and answers come back. */
  readonly #inbox: string;
  readonly #partitions: number;
  readonly #dropped: OnDropped;
  readonly #logger: Logger;
  readonly #pending: PendingCommands;

  constructor(
    nc: NatsConnection,
    outbox: CommandOutbox,
    inbox: string,
    partitions: number,
    dropped: OnDropped,
    logger: Logger,
    pending: PendingCommands,
  ) {
    this.#nc = nc;
    this.#outbox = outbox;
    this.#inbox = inbox;
    this.#partitions = partitions;
    this.#dropped = dropped;
    this.#logger = logger;
    this.#pending = pending;
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
    const subject = commandSubject(partitionOf(key, this.#partitions));
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
    const corr = this.#pending.nextCorr();
    const header: QosOneHeader =
      packetId === undefined
        ? { op, device: key, dialect, source: "device", corr }
        : { op, device: key, dialect, source: "device", corr, packetId, dup };
    return this.#pending.send(subject, header, payload);
  }

  /**
   * A device that subscribes to its image's deltas is sent a function call queued while
   * it was away, through a `sync` command: the shard answers with the document, the
   * reply service with the delta if a call is waiting (nothing otherwise).
   */
  syncIfDeltas(device: DeviceId, filters: readonly string[]): void {
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
        commandSubject(partitionOf(key, this.#partitions)),
        encodeCommand(header, new Uint8Array(0)),
        this.#inbox,
      );
    }
  }
}

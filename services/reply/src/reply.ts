import {
  ALL_EVENTS,
  type DeviceMessages,
  deviceSubject,
  encodeDeliverText,
  encodeEdgeDeliver,
  type Msg,
  type NatsConnection,
  type OutboundText,
  Outbox,
  REPLY_QUEUE,
  type ShadowEvent,
  type Subscription,
} from "@umbra/bus";
import { type DeviceId, parseDeviceKey } from "@umbra/dialects";
import type { Logger } from "@umbra/runtime";
import { renderOneNetEvent } from "./onenet.js";

const decoder = new TextDecoder();

/**
 * Fans result events out to devices: renders each event in the device-facing dialect.
 * Answers to a device's own request go to the inbox of the edge the request came
 * through, every device's of one turn in one frame per edge; the rest (changes made by
 * the cloud) go on the device's subject, where whichever edge holds its session picks
 * them up. Edges deliver only what a session subscribed to. Reply instances share the
 * work through a queue group.
 */
export class Reply {
  readonly #nc: NatsConnection;
  readonly #outbox: Outbox;
  readonly #logger: Logger;
  #subscription: Subscription | undefined;
  /** This turn's answers per edge inbox, sent as one frame each when the turn ends. */
  #toEdges = new Map<string, DeviceMessages<OutboundText>[]>();

  constructor(nc: NatsConnection, logger: Logger) {
    this.#nc = nc;
    this.#outbox = new Outbox(nc, () => this.#flushEdges());
    this.#logger = logger;
  }

  start(): void {
    this.#subscription = this.#nc.subscribe(ALL_EVENTS, {
      queue: REPLY_QUEUE,
      callback: (error, msg) => {
        if (error === null) this.#handle(msg);
        else this.#logger.error({ err: error.message }, "event subscription failed");
      },
    });
  }

  async stop(): Promise<void> {
    await this.#subscription?.drain().catch(() => undefined);
    this.#outbox.flush();
    // A connection already gone has nothing left to flush.
    await this.#nc.flush().catch(() => undefined);
  }

  #handle(msg: Msg): void {
    let events: ShadowEvent[];
    try {
      const parsed = JSON.parse(decoder.decode(msg.data)) as ShadowEvent | ShadowEvent[];
      events = Array.isArray(parsed) ? parsed : [parsed];
    } catch (e) {
      this.#logger.warn(
        { err: e instanceof Error ? e.message : String(e) },
        "unreadable event dropped",
      );
      return;
    }
    // A message holds a shard's turn, each device's events together and in order: each
    // run of one device's events goes out in one deliver frame.
    let key = "";
    let origin: string | undefined;
    let device: DeviceId | undefined;
    let messages: OutboundText[] = [];
    for (const event of events) {
      if (event.device !== key || event.origin !== origin) {
        this.#deliver(key, device, origin, messages);
        messages = [];
        origin = typeof event.origin === "string" ? event.origin : undefined;
        if (event.device !== key) {
          key = event.device;
          device = parseDeviceKey(key);
          if (device === undefined)
            this.#logger.warn({ device: key }, "event for an unreadable device key dropped");
        }
      }
      // Only OneNET speaks to devices so far; cloud-made changes reach them in it too.
      if (device !== undefined) for (const m of renderOneNetEvent(event, device)) messages.push(m);
    }
    this.#deliver(key, device, origin, messages);
  }

  #deliver(
    key: string,
    device: DeviceId | undefined,
    origin: string | undefined,
    messages: OutboundText[],
  ): void {
    if (device === undefined || messages.length === 0) return;
    if (origin === undefined) {
      this.#outbox.publish(
        deviceSubject(device.productId, device.deviceName),
        encodeDeliverText(messages),
      );
      return;
    }
    const waiting = this.#toEdges.get(origin);
    if (waiting === undefined) this.#toEdges.set(origin, [{ device: key, messages }]);
    else waiting.push({ device: key, messages });
    this.#outbox.schedule();
  }

  #flushEdges(): void {
    if (this.#toEdges.size === 0) return;
    const toEdges = this.#toEdges;
    this.#toEdges = new Map();
    for (const [inbox, devices] of toEdges) this.#outbox.publish(inbox, encodeEdgeDeliver(devices));
  }
}

import {
  ALL_EVENTS,
  appSubject,
  type DeviceMessages,
  decodeEvents,
  deviceSubject,
  encodeDeliverTextFrames,
  encodeEdgeDeliverFrames,
  type Msg,
  type NatsConnection,
  type OutboundText,
  Outbox,
  REPLY_QUEUE,
  type ShadowEvent,
  type Subscription,
} from "@umbra/bus";
import { encodeJson } from "@umbra/core";
import {
  awsDialect,
  DEVICE_DIALECTS,
  type DeviceDialect,
  type DeviceId,
  type DialectName,
  dialectNamed,
  type EventJson,
  eventJsonOf,
  parseDeviceKey,
} from "@umbra/dialects";
import {
  busDropReporter,
  type CounterCell,
  type LimitedLog,
  type Logger,
  limitedLog,
  messageOf,
} from "@umbra/runtime";
import { encodeAppEvent } from "./app-events.js";
import { type ReplyMetrics, replyMetrics } from "./metrics.js";

/** A product's application events collected in one turn. */
interface AppBatch {
  readonly subject: string;
  events: string[];
  chars: number;
}

/**
 * Characters of JSON after which a product's batch is sent before the turn ends (or a
 * third of the server's `max_payload`, if smaller): at most 3 UTF-8 bytes each, so a
 * message stays under the limit.
 */
const MAX_APP_CHARS = 256 * 1024;

/**
 * Fans result events out to devices: renders each event in the device-facing dialect.
 * Answers to a device's own request go to the inbox of the edge the request came
 * through, every device's of one turn in one frame per edge; the rest (changes made by
 * the cloud) go on the device's subject, where whichever edge holds its session picks
 * them up. Edges deliver only what a session subscribed to. Every accepted write also
 * becomes an application event, one message per product per turn on `umbra.app.{pid}`
 * (what the API's event streams serve). Reply instances share the work through a queue
 * group.
 */
export class Reply {
  readonly #nc: NatsConnection;
  readonly #outbox: Outbox;
  /** Per-message warnings, rate-limited. */
  readonly #log: LimitedLog;
  #subscription: Subscription | undefined;
  /** This turn's answers per edge inbox, sent as one frame each when the turn ends. */
  #toEdges = new Map<string, DeviceMessages<OutboundText>[]>();
  /** This turn's application events (JSON) per product, one message each when it ends. */
  #toApps = new Map<string, AppBatch>();
  readonly #events: CounterCell;
  /** Messages rendered for devices, per dialect. */
  readonly #out: ReadonlyMap<DialectName, CounterCell>;
  readonly #now: () => number;

  constructor(
    nc: NatsConnection,
    logger: Logger,
    metrics: ReplyMetrics = replyMetrics(),
    now: () => number = Date.now,
  ) {
    this.#nc = nc;
    this.#outbox = new Outbox(
      nc,
      () => {
        this.#flushEdges();
        this.#flushApps();
      },
      busDropReporter(logger),
    );
    this.#log = limitedLog(logger);
    this.#events = metrics.events;
    this.#out = new Map(DEVICE_DIALECTS.map((d) => [d.name, metrics.messagesOut(d.name)]));
    this.#now = now;
  }

  start(): void {
    this.#subscription = this.#nc.subscribe(ALL_EVENTS, {
      queue: REPLY_QUEUE,
      callback: (error, msg) => {
        if (error === null) this.#handle(msg);
        else this.#log.error({ err: error.message }, "event subscription failed");
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
      events = decodeEvents(msg.data);
    } catch (e) {
      this.#log.warn({ err: messageOf(e) }, "unreadable event dropped");
      return;
    }
    this.#events.value += events.length;
    // A message holds a shard's turn, each device's events together and in order: each
    // run of one device's events goes out in one deliver frame.
    let key = "";
    let origin: string | undefined;
    let device: DeviceId | undefined;
    let deviceJson = "";
    let apps: AppBatch | undefined;
    let messages: OutboundText[] = [];
    const now = this.#now();
    for (const event of events) {
      if (event.device !== key || event.origin !== origin) {
        this.#deliver(key, device, origin, messages);
        messages = [];
        origin = typeof event.origin === "string" ? event.origin : undefined;
        if (event.device !== key) {
          key = event.device;
          device = parseDeviceKey(key);
          if (device === undefined)
            this.#log.warn({ device: key }, "event for an unreadable device key dropped");
          else {
            deviceJson = encodeJson(device.deviceName);
            apps = this.#appEvents(device.productId);
          }
        }
      }
      if (device === undefined) continue;
      const json: EventJson = eventJsonOf(event);
      if (event.kind === "accepted")
        this.#addAppEvent(
          apps as AppBatch,
          encodeAppEvent(deviceJson, event, json.applied as string, json.delta),
        );
      if (event.shadow !== undefined) {
        // A named shadow: only AWS has them. A device's own request is answered (the
        // answer carries the delta and documents too); anyone else's change is pushed.
        if (event.source === "cloud") this.#render(awsDialect, event, device, messages, json, now);
        else if (event.dialect === "aws")
          this.#render(awsDialect, event, device, messages, json, now, true);
      } else if (event.source === "device") {
        // The answer, in the dialect the request came in.
        const dialect = dialectNamed(event.dialect);
        if (dialect !== undefined) this.#render(dialect, event, device, messages, json, now, true);
        if (event.kind === "accepted") {
          // Desired changed by a device (a gateway for its sub-device, or the device in
          // another dialect): the other dialects push it, on the device's subject.
          if (event.document !== undefined && event.desiredUnchanged !== true) {
            const pushes: OutboundText[] = [];
            this.#renderPushes(event, device, pushes, json, now, event.dialect);
            this.#deliver(key, device, undefined, pushes);
          }
          // A report that left desired alone, while an AWS session listens: AWS tells
          // every subscriber of every update.
          else if (event.awsListens === true && event.dialect !== "aws") {
            const pushes: OutboundText[] = [];
            this.#render(awsDialect, event, device, pushes, json, now);
            this.#deliver(key, device, undefined, pushes);
          }
        }
      }
      // A change the cloud made: told in every dialect; the edge delivers only what the
      // device's session subscribed to.
      else this.#renderPushes(event, device, messages, json, now, undefined);
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
      const subject = deviceSubject(device.productId, device.deviceName);
      for (const frame of encodeDeliverTextFrames(messages, this.#outbox.maxPayload))
        this.#outbox.publish(subject, frame);
      return;
    }
    const waiting = this.#toEdges.get(origin);
    if (waiting === undefined) this.#toEdges.set(origin, [{ device: key, messages }]);
    else waiting.push({ device: key, messages });
    this.#outbox.schedule();
  }

  /** One dialect's answer to the device's request, or its push of a change; counted. */
  #render(
    dialect: DeviceDialect,
    event: ShadowEvent,
    device: DeviceId,
    out: OutboundText[],
    json: EventJson,
    now: number,
    answer = false,
  ): void {
    const before = out.length;
    if (answer) dialect.renderAnswer(event, device, out, json, now);
    else dialect.renderPush(event, device, out, json, now);
    this.#count(dialect, out.length - before);
  }

  /** Every dialect's push of a change (but `skip`'s, which answered it), counted. */
  #renderPushes(
    event: ShadowEvent,
    device: DeviceId,
    out: OutboundText[],
    json: EventJson,
    now: number,
    skip: DialectName | undefined,
  ): void {
    for (const dialect of DEVICE_DIALECTS) {
      if (dialect.name === skip) continue;
      const before = out.length;
      dialect.renderPush(event, device, out, json, now);
      this.#count(dialect, out.length - before);
    }
  }

  /** Counts the messages a dialect rendered. */
  #count(dialect: DeviceDialect, added: number): void {
    if (added > 0) {
      const cell = this.#out.get(dialect.name);
      if (cell !== undefined) cell.value += added;
    }
  }

  /** The product's application events of this turn, to add to. */
  #appEvents(productId: string): AppBatch {
    let batch = this.#toApps.get(productId);
    if (batch === undefined) {
      batch = { subject: appSubject(productId), events: [], chars: 0 };
      this.#toApps.set(productId, batch);
      this.#outbox.schedule();
    }
    return batch;
  }

  #addAppEvent(batch: AppBatch, json: string): void {
    // A turn of one product's events stays far below NATS's payload limit unless its
    // documents are large: past MAX_APP_CHARS the batch so far goes out first, in order.
    const max = Math.min(MAX_APP_CHARS, Math.floor((this.#outbox.maxPayload - 2) / 3));
    if (batch.chars + json.length > max && batch.events.length > 0) {
      this.#outbox.publish(batch.subject, `[${batch.events.join(",")}]`);
      batch.events = [];
      batch.chars = 0;
    }
    batch.events.push(json);
    batch.chars += json.length + 1;
  }

  /** One message per product: its events of the turn as a JSON array, in order. */
  #flushApps(): void {
    if (this.#toApps.size === 0) return;
    const toApps = this.#toApps;
    this.#toApps = new Map();
    for (const batch of toApps.values())
      if (batch.events.length > 0)
        this.#outbox.publish(batch.subject, `[${batch.events.join(",")}]`);
  }

  #flushEdges(): void {
    if (this.#toEdges.size === 0) return;
    const toEdges = this.#toEdges;
    this.#toEdges = new Map();
    // A burst (6,000 reports/s of 20 properties) can pass the server's max_payload in one
    // turn: split, devices and messages in order.
    const max = this.#outbox.maxPayload;
    for (const [inbox, devices] of toEdges)
      for (const frame of encodeEdgeDeliverFrames(devices, max)) this.#outbox.publish(inbox, frame);
  }
}

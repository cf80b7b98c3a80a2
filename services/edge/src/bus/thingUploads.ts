import {
  appSubject,
  commandSubject,
  jsonArrays,
  maxPayloadOf,
  type NatsConnection,
  type OnDropped,
  partitionOf,
  publishOrDrop,
} from "@umbra/bus";
import { defaultLimits, type JsonValue, type Limits } from "@umbra/core";
import {
  type DeviceId,
  defaultThingLimits,
  deviceKey,
  readThingEventPost,
  readThingHistory,
  readThingPack,
  renderThingError,
  renderThingRefusal,
  renderThingSuccess,
  type ThingLimits,
  type ThingProperties,
  type ThingRefusal,
  thingToken,
  thingUploadReplyTopic,
} from "@umbra/dialects";
import { type LimitedLog, natsConnected } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../backend.js";
import type { EdgeThingUpload, ThingUploadCounters } from "../metrics.js";
import type { PendingCommands, QosOneHeader } from "./retry.js";

/**
 * OneNET thing-model uploads the edge handles itself (issue 18, DIALECTS.md §4.2):
 *
 * - `event/post`: no shadow write. Each event becomes an `event` application event on
 *   the device's product subject (`umbra.app.{pid}`, as telemetry).
 * - `history/post`: no shadow write either (late data never overwrites what a device
 *   reported since). Every value becomes a `history` application event, each device's
 *   oldest first, on its product's subject.
 * - `pack/post`: names several devices, each with its own actor, so the edge reads it:
 *   one QoS 1 command per device with properties (a property post, which its shard
 *   writes with each value's time), acknowledged through `PendingCommands`; the events
 *   go out as `event` application events once every command is acknowledged.
 *
 * Sub-devices are read with the session's own rule (its device, or a sub-device its
 * gateway acts for): a stranger refuses the whole message before anything is sent.
 * Every upload is answered on its `…/reply` topic: 200, the reader's code, or 128 when
 * the cluster did not take it (then a QoS 1 upload gets no PUBACK and the device sends
 * it again). Success is answered after the PUBACK, as the shards' answers are.
 */

/** Packs one session may have waiting for their commands' acks (`MQTT_THING_MAX_PACKS`). */
export const DEFAULT_THING_MAX_PACKS = 10;

/**
 * A pack entry's command token: the shard reads its payload as a property post of that
 * device; its answer renders nothing (the edge answers the pack, once, to the gateway).
 */
const ENTRY_UPLOAD = "pack/post";

/** What the edge answers when the cluster did not take an upload, or past the pack window. */
const NOT_TAKEN = 128;
/** What it answers when an entry or an event would pass a bound the reader does not know. */
const OUT_OF_BOUND = 161;

/**
 * Bytes of one application-event message at most (or the server's `max_payload`, if
 * smaller): the reply service's bound on its own, so a consumer reads messages of one size.
 */
const MAX_APP_MESSAGE_BYTES = 256 * 1024;

export interface ThingUploadOptions {
  /**
   * The largest upload read: the MQTT packet bound. None of these uploads is one shadow
   * write, so the engine's payload bound applies to each pack entry, not to the whole.
   */
  readonly maxPayloadBytes: number;
  /** Packs of one session waiting for their commands' acks; one more is answered 128. */
  readonly maxPacks: number;
  /** Sub-devices, points and history values per message (OneNET's 10 / 100 / 100). */
  readonly thingLimits?: ThingLimits | undefined;
  /** The engine's bounds, which the shards apply: names, depth, each entry's payload. */
  readonly engineLimits?: Limits | undefined;
}

export interface ThingUploadParts {
  readonly nc: NatsConnection;
  readonly dropped: OnDropped;
  readonly log: LimitedLog;
  readonly now: () => number;
  readonly counters: ThingUploadCounters;
  readonly pending: PendingCommands;
  readonly partitions: number;
  /** Whether a session may use a device's topics: its own, or a sub-device it acts for. */
  readonly mayUse: (session: DeviceSession, device: DeviceId) => boolean;
}

/** One device's application events (JSON texts), for its product's subject. */
type AppEvents = Map<string, string[]>;

type Published = "published" | "disconnected" | "oversize" | "failed";

export class ThingUploads {
  readonly #parts: ThingUploadParts;
  readonly #maxPacks: number;
  readonly #thing: ThingLimits;
  /** The engine's bounds, the payload bound raised to the packet's: what uploads are read with. */
  readonly #read: Limits;
  /** The engine's payload bound, which each pack entry's command must keep. */
  readonly #entryBytes: number;
  /** Packs waiting per session id; an entry leaves at 0, so a closed session leaves none. */
  readonly #packs = new Map<string, number>();

  constructor(parts: ThingUploadParts, options: ThingUploadOptions) {
    const { maxPacks, maxPayloadBytes } = options;
    if (!Number.isInteger(maxPacks) || maxPacks < 1)
      throw new RangeError(`the pack window must be a positive integer, got ${maxPacks}`);
    this.#parts = parts;
    this.#maxPacks = maxPacks;
    this.#thing = options.thingLimits ?? defaultThingLimits;
    const engine = options.engineLimits ?? defaultLimits;
    this.#read = { ...engine, maxPayloadBytes };
    this.#entryBytes = engine.maxPayloadBytes;
  }

  /** Packs of a session waiting for their acks: for tests of the window. */
  packsInFlight(sessionId: string): number {
    return this.#packs.get(sessionId) ?? 0;
  }

  /** Sessions with a pack waiting: for tests that nothing is left behind. */
  get sessionsWithPacks(): number {
    return this.#packs.size;
  }

  /** QoS 0: `undefined`. QoS 1: whether to PUBACK (false: none, the session closes). */
  publish(session: DeviceSession, message: DevicePublish): Promise<boolean> | undefined {
    const { request } = message;
    if (request.kind !== "thing-upload") return settle(message.qos, true);
    switch (request.upload) {
      case "event/post":
        return this.#eventPost(session, request.device, message);
      case "history/post":
        return this.#history(session, request.device, message);
      case "pack/post":
        return this.#pack(session, request.device, message);
    }
  }

  #eventPost(
    session: DeviceSession,
    device: DeviceId,
    message: DevicePublish,
  ): Promise<boolean> | undefined {
    const read = readThingEventPost(message.payload, this.#read);
    if (!read.ok) return this.#refused(session, device, "event/post", message, read.error);
    const now = this.#parts.now();
    const events: AppEvents = new Map();
    for (const event of read.value.events)
      add(events, device.productId, eventJson(device.deviceName, event, now));
    return settle(message.qos, this.#finish(session, device, "event/post", read.value.id, events));
  }

  #history(
    session: DeviceSession,
    device: DeviceId,
    message: DevicePublish,
  ): Promise<boolean> | undefined {
    const read = readThingHistory(
      message.payload,
      device,
      (d) => this.#parts.mayUse(session, d),
      this.#read,
      this.#thing,
    );
    if (!read.ok) return this.#refused(session, device, "history/post", message, read.error);
    const now = this.#parts.now();
    const events: AppEvents = new Map();
    // The reader puts each device's points oldest first; devices in the message's order.
    for (const entry of read.value.entries)
      for (const point of entry.points)
        add(events, entry.device.productId, historyJson(entry.device.deviceName, point, now));
    return settle(
      message.qos,
      this.#finish(session, device, "history/post", read.value.id, events),
    );
  }

  #pack(
    session: DeviceSession,
    device: DeviceId,
    message: DevicePublish,
  ): Promise<boolean> | undefined {
    const { qos } = message;
    const read = readThingPack(
      message.payload,
      device,
      (d) => this.#parts.mayUse(session, d),
      this.#read,
      this.#thing,
    );
    if (!read.ok) return this.#refused(session, device, "pack/post", message, read.error);
    const { id, version, entries } = read.value;
    // Every command is built before any is sent: one the shard would refuse for its size
    // refuses the whole pack, so nothing is written for any device.
    const commands: { key: string; payload: Buffer }[] = [];
    for (const entry of entries) {
      if (entry.properties === undefined) continue;
      const payload = Buffer.from(propertyPostJson(id, version, entry.properties), "utf8");
      if (payload.length > this.#entryBytes) {
        this.#count("pack/post", "refused");
        this.#answerLater(session, device, "pack/post", renderThingError(id, OUT_OF_BOUND));
        return settle(qos, true);
      }
      commands.push({ key: deviceKey(entry.device), payload });
    }
    const now = this.#parts.now();
    const events: AppEvents = new Map();
    for (const entry of entries)
      for (const event of entry.events)
        add(events, entry.device.productId, eventJson(entry.device.deviceName, event, now));
    // Published only after the commands: an event that could never be is refused first.
    if (!this.#fits(events)) {
      this.#count("pack/post", "refused");
      this.#answerLater(session, device, "pack/post", renderThingError(id, OUT_OF_BOUND));
      return settle(qos, true);
    }
    if (!this.#openPack(session.id)) {
      // Received and answered, as an AWS request past its window: PUBACK.
      this.#count("pack/post", "throttled");
      this.#answerLater(session, device, "pack/post", renderThingError(id, NOT_TAKEN));
      return settle(qos, true);
    }
    const { pending, partitions } = this.#parts;
    const token = thingToken(ENTRY_UPLOAD, id);
    const sent = commands.map(({ key, payload }) => {
      const corr = pending.nextCorr();
      // A QoS 1 pack's packet id and DUP flag go with every command: a pack the device
      // sends again (DUP) is recognised by each shard, which does not apply it twice.
      const header: QosOneHeader =
        message.packetId === undefined
          ? { op: "request", device: key, dialect: "onenet", source: "device", corr, token }
          : {
              op: "request",
              device: key,
              dialect: "onenet",
              source: "device",
              corr,
              packetId: message.packetId,
              dup: message.dup,
              token,
            };
      return pending.send(commandSubject(partitionOf(key, partitions)), header, payload);
    });
    const done = Promise.all(sent).then((acked) => {
      this.#closePack(session.id);
      if (!acked.every((ok) => ok)) {
        this.#parts.log.warn(
          { device: session.deviceKey, id, commands: acked.length },
          "a thing pack's command was not acknowledged: answered 128, no PUBACK",
        );
        return this.#notTaken(session, device, "pack/post", id);
      }
      return this.#finish(session, device, "pack/post", id, events);
    });
    if (qos === 1) return done;
    // Nothing waits for a QoS 0 pack's outcome: a failure here is logged, never thrown.
    done.catch((error: unknown) =>
      this.#parts.log.error({ device: session.deviceKey, err: String(error) }, "thing pack failed"),
    );
    return undefined;
  }

  /**
   * Publishes an upload's application events and answers it: 200 (after the PUBACK), or
   * 128 without PUBACK when they could not be published. An event past what one NATS
   * message holds is refused (161) before anything is published. Whether to PUBACK.
   */
  #finish(
    session: DeviceSession,
    device: DeviceId,
    upload: EdgeThingUpload,
    id: string,
    events: AppEvents,
  ): boolean {
    const published = this.#publishApp(events);
    if (published === "oversize") {
      this.#count(upload, "refused");
      this.#answerLater(session, device, upload, renderThingError(id, OUT_OF_BOUND));
      return true;
    }
    if (published !== "published") {
      this.#parts.log.warn(
        { device: session.deviceKey, upload, why: published },
        "thing upload's events not published: answered 128, no PUBACK",
      );
      return this.#notTaken(session, device, upload, id);
    }
    this.#count(upload, "accepted");
    this.#answerLater(session, device, upload, renderThingSuccess(id));
    return true;
  }

  /** Refused by the reader: its code, after the PUBACK (the device sent it; it was read). */
  #refused(
    session: DeviceSession,
    device: DeviceId,
    upload: EdgeThingUpload,
    message: DevicePublish,
    refusal: ThingRefusal,
  ): Promise<boolean> | undefined {
    this.#count(upload, "refused");
    this.#answerLater(session, device, upload, renderThingRefusal(refusal));
    return settle(message.qos, true);
  }

  /**
   * The cluster did not take it: 128 at once (before the session closes for the missing
   * PUBACK), and false, so a QoS 1 upload is not acknowledged and comes again.
   */
  #notTaken(session: DeviceSession, device: DeviceId, upload: EdgeThingUpload, id: string): false {
    this.#count(upload, "failed");
    session.deliver(
      thingUploadReplyTopic(device, upload),
      Buffer.from(renderThingError(id, NOT_TAKEN)),
    );
    return false;
  }

  /** In the next turn: a QoS 1 upload's PUBACK, sent when its promise settles, goes first. */
  #answerLater(
    session: DeviceSession,
    device: DeviceId,
    upload: EdgeThingUpload,
    body: string,
  ): void {
    const topic = thingUploadReplyTopic(device, upload);
    setImmediate(() => session.deliver(topic, Buffer.from(body, "utf8")));
  }

  #count(upload: EdgeThingUpload, result: Parameters<ThingUploadCounters>[1]): void {
    this.#parts.counters(upload, result).value++;
  }

  #openPack(sessionId: string): boolean {
    const waiting = this.#packs.get(sessionId) ?? 0;
    if (waiting >= this.#maxPacks) return false;
    this.#packs.set(sessionId, waiting + 1);
    return true;
  }

  #closePack(sessionId: string): void {
    const waiting = (this.#packs.get(sessionId) ?? 1) - 1;
    if (waiting > 0) this.#packs.set(sessionId, waiting);
    else this.#packs.delete(sessionId);
  }

  /** The largest application-event message: the reply service's bound, or `max_payload`. */
  #budget(): number {
    return Math.min(MAX_APP_MESSAGE_BYTES, maxPayloadOf(this.#parts.nc));
  }

  /** Whether every event fits in a message of its own (`[` and `]` around it). */
  #fits(events: AppEvents): boolean {
    const budget = this.#budget();
    for (const texts of events.values())
      for (const event of texts) if (2 + Buffer.byteLength(event, "utf8") > budget) return false;
    return true;
  }

  /**
   * Each product's events as JSON arrays of at most `MAX_APP_MESSAGE_BYTES` (or
   * `max_payload`). Checked whole before the first publish: an event too large for any
   * message, or NATS disconnected, publishes nothing.
   */
  #publishApp(events: AppEvents): Published {
    const { nc, dropped } = this.#parts;
    if (events.size === 0) return "published";
    if (!natsConnected(nc)) {
      for (const [productId, texts] of events) {
        const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text, "utf8"), 0);
        dropped("disconnected", appSubject(productId), bytes, "NATS disconnected");
      }
      return "disconnected";
    }
    if (!this.#fits(events)) return "oversize";
    const budget = this.#budget();
    const messages: { subject: string; text: string }[] = [];
    for (const [productId, texts] of events) {
      const subject = appSubject(productId);
      for (const text of jsonArrays(texts, budget)) messages.push({ subject, text });
    }
    for (const { subject, text } of messages)
      if (!publishOrDrop(nc, subject, text, undefined, dropped)) return "failed";
    return "published";
  }
}

/** QoS 0 returns nothing; QoS 1 says whether to PUBACK. */
const settle = (qos: 0 | 1, acknowledged: boolean): Promise<boolean> | undefined =>
  qos === 1 ? Promise.resolve(acknowledged) : undefined;

const add = (events: AppEvents, productId: string, json: string): void => {
  const list = events.get(productId);
  if (list === undefined) events.set(productId, [json]);
  else list.push(json);
};

/**
 * An `event` application event: `{"device","source":"device","op":"event","identifier",
 * "value","time","timestamp"}` — `time` the device's (ms), else the edge's `timestamp`.
 */
export const eventJson = (
  deviceName: string,
  event: {
    readonly identifier: string;
    readonly value: JsonValue;
    readonly time: number | undefined;
  },
  timestamp: number,
): string =>
  `{"device":${JSON.stringify(deviceName)},"source":"device","op":"event","identifier":${JSON.stringify(event.identifier)},"value":${JSON.stringify(event.value)},"time":${event.time ?? timestamp},"timestamp":${timestamp}}`;

/**
 * A `history` application event: `{"device","source":"device","op":"history","kind",
 * "identifier","value","time","timestamp"}`; `kind` says whether the value was a
 * property's or an event's (an identifier may name one of each).
 */
export const historyJson = (
  deviceName: string,
  point: {
    readonly kind: "property" | "event";
    readonly identifier: string;
    readonly value: JsonValue;
    readonly time: number;
  },
  timestamp: number,
): string =>
  `{"device":${JSON.stringify(deviceName)},"source":"device","op":"history","kind":"${point.kind}","identifier":${JSON.stringify(point.identifier)},"value":${JSON.stringify(point.value)},"time":${point.time},"timestamp":${timestamp}}`;

/**
 * A pack entry's properties as a `property/post` body (`{"id","version","params":
 * {identifier:{"value"[,"time"]}}}`), the shape the shard reads for that upload. Written
 * as text so an identifier such as `__proto__` stays a member.
 */
export const propertyPostJson = (
  id: string,
  version: string,
  properties: ThingProperties,
): string => {
  const { reported, times } = properties;
  let params = "";
  for (const identifier in reported) {
    // Own members only: `times.__proto__` would be Object.prototype when not given.
    const time =
      times !== undefined && Object.hasOwn(times, identifier) ? times[identifier] : undefined;
    const point = `{"value":${JSON.stringify(reported[identifier])}${time === undefined ? "" : `,"time":${time}`}}`;
    params += `${params === "" ? "" : ","}${JSON.stringify(identifier)}:${point}`;
  }
  return `{"id":${JSON.stringify(id)},"version":${JSON.stringify(version)},"params":{${params}}}`;
};

import {
  checkPropertyTree,
  DEFAULT_ONEJSON_VERSION,
  defaultLimits,
  err,
  FUNCTION_KEY,
  FUNCTION_RESULT_KEY,
  hasOwn,
  isObject,
  isOneJsonId,
  type JsonObject,
  type JsonValue,
  keyProblem,
  type Limits,
  type OneJsonReply,
  ok,
  type PropertyTimes,
  parseGatewayReply,
  parseJsonPayload,
  type Result,
  type ShadowError,
  ShadowErrors,
  toPointer,
} from "@umbra/core";
import { type DeviceId, deviceKey, nameProblem } from "../../device.js";
import { salvageMember } from "../../salvage.js";
import { THING_CODES, type ThingErrorCode, thingErrorCode } from "./codes.js";

/**
 * Readers of what a device uploads on the thing topics (DIALECTS.md §4.2). Each returns
 * the typed request or a refusal carrying the reply's code; nothing is written before a
 * whole payload is read and checked, so a refused upload changes nothing.
 */

/** Batch and history bounds (DIALECTS.md §4.3), configurable beside the engine's `Limits`. */
export interface ThingLimits {
  /** Devices named by an `identity` in one `pack/post` or `history/post` (OneNET: 10). */
  readonly maxSubDevices: number;
  /** Properties plus events of one device in one message (OneNET: 100). */
  readonly maxPointsPerDevice: number;
  /** Values of one property or event in one `history/post` (OneNET: 100). */
  readonly maxHistoryValues: number;
}

export const defaultThingLimits: ThingLimits = {
  maxSubDevices: 10,
  maxPointsPerDevice: 100,
  maxHistoryValues: 100,
};

/** An upload refused: the reply's code, the error behind it, and the request's id when read. */
export interface ThingRefusal {
  /** The request's `id`, or `null` when it could not be read (the reply says `"id":null`). */
  readonly id: string | null;
  readonly code: ThingErrorCode;
  readonly error: ShadowError;
}

/** Property values with the time each was measured, ready for `UpdateRequest.times`. */
export interface ThingProperties {
  /** Identifier → value. */
  readonly reported: JsonObject;
  /** Identifier → ms, for the values that carried a `time`; `undefined` when none did. */
  readonly times: PropertyTimes | undefined;
}

/** `thing/property/post`. */
export interface ThingPropertyPost extends ThingProperties {
  readonly id: string;
  readonly version: string;
}

/** One event: its identifier, value and the time the device gave (ms), if any. */
export interface ThingEvent {
  readonly identifier: string;
  readonly value: JsonValue;
  readonly time: number | undefined;
}

/** `thing/event/post`. */
export interface ThingEventPost {
  readonly id: string;
  readonly version: string;
  readonly events: readonly ThingEvent[];
}

/** `thing/property/desired/get`: the identifiers asked for, each once, in request order. */
export interface ThingDesiredGet {
  readonly id: string;
  readonly version: string;
  readonly identifiers: readonly string[];
}

/** One property to clear from desired; `version`: only if it is the latest (else always). */
export interface ThingDesiredDeleteEntry {
  readonly identifier: string;
  readonly version: number | undefined;
}

/** `thing/property/desired/delete`. */
export interface ThingDesiredDelete {
  readonly id: string;
  readonly version: string;
  readonly entries: readonly ThingDesiredDeleteEntry[];
}

/** One device's part of a batch: its properties (if any) and events. */
export interface ThingPackEntry {
  readonly device: DeviceId;
  /** Named by an `identity` other than the publisher's: a sub-device of the gateway. */
  readonly sub: boolean;
  /** `undefined` when the entry has no properties. */
  readonly properties: ThingProperties | undefined;
  readonly events: readonly ThingEvent[];
}

/** `thing/pack/post`: one entry per device, each device once. */
export interface ThingPack {
  readonly id: string;
  readonly version: string;
  readonly entries: readonly ThingPackEntry[];
}

/** One historical value of a property or an event. */
export interface ThingHistoryPoint {
  readonly kind: "property" | "event";
  readonly identifier: string;
  readonly value: JsonValue;
  /** ms: required in history. */
  readonly time: number;
}

/** One device's part of a history upload. */
export interface ThingHistoryEntry {
  readonly device: DeviceId;
  readonly sub: boolean;
  /** Every value, properties' and events', oldest first; equal times keep upload order. */
  readonly points: readonly ThingHistoryPoint[];
}

/** `thing/history/post`. */
export interface ThingHistory {
  readonly id: string;
  readonly version: string;
  readonly entries: readonly ThingHistoryEntry[];
}

type Refused<T> = Result<T, ThingRefusal>;

const refuse = <T>(id: string | null, error: ShadowError, code?: ThingErrorCode): Refused<T> =>
  err({ id, code: code ?? thingErrorCode(error), error });

const invalid = (pointer: string, reason: string): ShadowError =>
  ShadowErrors.invalidParameter(pointer, reason);

/** Sets an own key on an object built from device input, `__proto__` included. */
const setOwn = <T>(object: Record<string, T>, key: string, value: T): void => {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
};

const countKeys = (object: JsonObject): number => {
  let n = 0;
  for (const _ in object) n++;
  return n;
};

interface Envelope {
  readonly id: string;
  readonly version: string;
  readonly params: unknown;
}

/**
 * `{"id","version","params"}`: JSON within the payload bound, an object, an `id` of 1–13
 * digits, `version` a string if present (default "1.0"), `params` present.
 */
const readEnvelope = (payload: Uint8Array | string, limits: Limits): Refused<Envelope> => {
  const parsed = parseJsonPayload(payload, limits);
  if (!parsed.ok) {
    // JSON past the engine's bounds still has an id a reply can echo.
    const id = salvageMember(payload, "id");
    return refuse(isOneJsonId(id) ? id : null, parsed.error);
  }
  const body = parsed.value;
  if (!isObject(body))
    return refuse(null, ShadowErrors.invalidJson("the payload must be a JSON object"));
  if (!isOneJsonId(body.id))
    return refuse(null, invalid("/id", "must be a string of 1 to 13 digits"));
  const id = body.id;
  const version = hasOwn(body, "version") ? body.version : DEFAULT_ONEJSON_VERSION;
  if (typeof version !== "string") return refuse(id, invalid("/version", "must be a string"));
  if (!hasOwn(body, "params")) return refuse(id, invalid("/params", "missing"));
  return ok({ id, version, params: body.params });
};

/** A request read whole: its envelope, then `body` reading `params` (a refusal echoes the id). */
const readRequest = <B>(
  payload: Uint8Array | string,
  limits: Limits,
  body: (id: string, params: unknown) => Refused<B>,
): Refused<{ id: string; version: string } & B> => {
  const envelope = readEnvelope(payload, limits);
  if (!envelope.ok) return envelope;
  const { id, version, params } = envelope.value;
  const read = body(id, params);
  return read.ok ? ok({ id, version, ...read.value }) : read;
};

/** A time in ms: what `UpdateRequest.times` takes. */
const isTime = (time: unknown): time is number =>
  typeof time === "number" && Number.isSafeInteger(time) && time >= 0;

/**
 * An identifier naming a property or event: an engine property name, and not one of
 * the function-call keys (seed 001), which only the engine writes.
 */
const identifierProblem = (identifier: string, limits: Limits): string | undefined =>
  identifier === FUNCTION_KEY || identifier === FUNCTION_RESULT_KEY
    ? "reserved for function calls"
    : keyProblem(identifier, limits.maxKeyLength);

/** Whether a value holds `null` anywhere (the engine would read it as a delete). */
const holdsNull = (value: JsonValue): boolean => {
  if (value === null) return true;
  if (typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some(holdsNull);
  for (const key in value) if (holdsNull((value as JsonObject)[key] as JsonValue)) return true;
  return false;
};

/**
 * `value`, under `identifier`, checked as the engine checks a reported property
 * (names, finite numbers, depth counted from the identifier), for a message naming it
 * at `pointer`; `null` refused for properties, whose thing-model types have none.
 */
const valueProblem = (
  identifier: string,
  value: JsonValue,
  pointer: string,
  limits: Limits,
  kind: "property" | "event",
): ShadowError | undefined => {
  const single: Record<string, JsonValue> = {};
  setOwn(single, identifier, value);
  const problem = checkPropertyTree(single, limits, false);
  if (problem !== undefined) {
    // Name the culprit in the message's terms: `…/{identifier}/value/…`.
    if (problem._tag !== "InvalidParameter" && problem._tag !== "DepthExceeded") return problem;
    const inner = problem.path.slice(toPointer([identifier]).length);
    const path = `${pointer}/value${inner}`;
    return problem._tag === "InvalidParameter"
      ? invalid(path, problem.reason)
      : ShadowErrors.depthExceeded(path, problem.limit);
  }
  if (kind === "property" && holdsNull(value))
    return invalid(`${pointer}/value`, "a property value holds no null");
  return undefined;
};

/** `{"value":…[,"time":…]}` — other members are ignored. */
const readPoint = (
  wrapper: unknown,
  pointer: string,
  timeRequired: boolean,
): Result<{ value: JsonValue; time: number | undefined }, ShadowError> => {
  if (!isObject(wrapper) || !hasOwn(wrapper, "value"))
    return err(invalid(pointer, 'must be {"value":…,"time":…}'));
  const time = wrapper.time;
  if (time === undefined) {
    if (timeRequired) return err(invalid(`${pointer}/time`, "a history value needs its time"));
  } else if (!isTime(time))
    return err(invalid(`${pointer}/time`, "must be a time in ms: an integer ≥ 0"));
  return ok({ value: wrapper.value as JsonValue, time: time as number | undefined });
};

/** `{identifier: {"value","time"}}` into points of `kind`, in message order, each checked. */
const readTimed = (
  params: JsonObject,
  pointer: string,
  limits: Limits,
  kind: "property" | "event",
): Result<ThingEvent[], ShadowError> => {
  const points: ThingEvent[] = [];
  for (const identifier in params) {
    const at = `${pointer}${toPointer([identifier])}`;
    const problem = identifierProblem(identifier, limits);
    if (problem !== undefined) return err(invalid(at, problem));
    const point = readPoint(params[identifier], at, false);
    if (!point.ok) return point;
    const bad = valueProblem(identifier, point.value.value, at, limits, kind);
    if (bad !== undefined) return err(bad);
    points.push({ identifier, value: point.value.value, time: point.value.time });
  }
  return ok(points);
};

/** `{identifier: {"value","time"}}` into values and times. */
const readProperties = (
  params: JsonObject,
  pointer: string,
  limits: Limits,
): Result<ThingProperties, ShadowError> => {
  const read = readTimed(params, pointer, limits, "property");
  if (!read.ok) return read;
  const reported: Record<string, JsonValue> = {};
  let times: Record<string, number> | undefined;
  for (const { identifier, value, time } of read.value) {
    setOwn(reported, identifier, value);
    if (time !== undefined) {
      times ??= {};
      setOwn(times, identifier, time);
    }
  }
  return ok({ reported, times });
};

/** `{identifier: {"value","time"}}` into events, in message order. */
const readEvents = (
  params: JsonObject,
  pointer: string,
  limits: Limits,
): Result<ThingEvent[], ShadowError> => readTimed(params, pointer, limits, "event");

const nonEmptyObject = (params: unknown, pointer: string, what: string): ShadowError | undefined =>
  !isObject(params)
    ? invalid(pointer, "must be an object")
    : countKeys(params) === 0
      ? invalid(pointer, `name at least one ${what}`)
      : undefined;

/**
 * `thing/property/post`: `{"id","version","params":{identifier:{"value","time"}}}` →
 * the values for reported and, for those with a `time` (ms), their times. Refused: no
 * property, a value not wrapped in `{"value"}`, a bad time, a name or value the engine
 * would refuse, `null` anywhere in a value.
 */
export const readThingPropertyPost = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Refused<ThingPropertyPost> =>
  readRequest(payload, limits, (id, params) => {
    const shape = nonEmptyObject(params, "/params", "property");
    if (shape !== undefined) return refuse(id, shape);
    const properties = readProperties(params as JsonObject, "/params", limits);
    return properties.ok ? properties : refuse(id, properties.error);
  });

/** `thing/event/post`: `{"params":{identifier:{"value","time"}}}` → events, in order. */
export const readThingEventPost = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Refused<ThingEventPost> =>
  readRequest<Pick<ThingEventPost, "events">>(payload, limits, (id, params) => {
    const shape = nonEmptyObject(params, "/params", "event");
    if (shape !== undefined) return refuse(id, shape);
    const events = readEvents(params as JsonObject, "/params", limits);
    return events.ok ? ok({ events: events.value }) : refuse(id, events.error);
  });

/** `thing/property/desired/get`: `{"params":[identifier,…]}`, at least one; repeats read once. */
export const readThingDesiredGet = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Refused<ThingDesiredGet> =>
  readRequest<Pick<ThingDesiredGet, "identifiers">>(payload, limits, (id, params) => {
    if (!Array.isArray(params)) return refuse(id, invalid("/params", "must be an array"));
    if (params.length === 0) return refuse(id, invalid("/params", "name at least one property"));
    const seen = new Set<string>();
    for (const [i, identifier] of params.entries()) {
      if (typeof identifier !== "string")
        return refuse(id, invalid(`/params/${i}`, "must be a string"));
      const problem = identifierProblem(identifier, limits);
      if (problem !== undefined) return refuse(id, invalid(`/params/${i}`, problem));
      seen.add(identifier);
    }
    return ok({ identifiers: [...seen] });
  });

/**
 * `thing/property/desired/delete`: `{"params":{identifier:{"version":n}|{}}}` — with a
 * version, cleared only if it is the latest; without, cleared. At least one property.
 */
export const readThingDesiredDelete = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Refused<ThingDesiredDelete> =>
  readRequest<Pick<ThingDesiredDelete, "entries">>(payload, limits, (id, params) => {
    const shape = nonEmptyObject(params, "/params", "property");
    if (shape !== undefined) return refuse(id, shape);
    const entries: ThingDesiredDeleteEntry[] = [];
    const object = params as JsonObject;
    for (const identifier in object) {
      const at = `/params${toPointer([identifier])}`;
      const problem = identifierProblem(identifier, limits);
      if (problem !== undefined) return refuse(id, invalid(at, problem));
      const entry = object[identifier];
      if (!isObject(entry)) return refuse(id, invalid(at, 'must be {"version":…} or {}'));
      const wanted = entry.version;
      if (wanted !== undefined && !isTime(wanted))
        return refuse(id, invalid(`${at}/version`, "must be an integer ≥ 0"));
      entries.push({ identifier, version: wanted as number | undefined });
    }
    return ok({ entries });
  });

/** An entry's device: its `identity`, or the publisher's own when it has none. */
const readIdentity = (
  entry: JsonObject,
  pointer: string,
  publisher: DeviceId,
): Result<{ device: DeviceId; sub: boolean }, ShadowError> => {
  if (!hasOwn(entry, "identity")) return ok({ device: publisher, sub: false });
  const identity = entry.identity;
  const at = `${pointer}/identity`;
  if (!isObject(identity)) return err(invalid(at, 'must be {"productID":…,"deviceName":…}'));
  const { productID, deviceName } = identity;
  if (typeof productID !== "string") return err(invalid(`${at}/productID`, "must be a string"));
  if (typeof deviceName !== "string") return err(invalid(`${at}/deviceName`, "must be a string"));
  const problem = nameProblem("productID", productID) ?? nameProblem("deviceName", deviceName);
  if (problem !== undefined) return err(invalid(at, problem));
  const device: DeviceId = { productId: productID, deviceName };
  // A device naming itself is the same as naming no one.
  const self =
    device.productId === publisher.productId && device.deviceName === publisher.deviceName;
  return ok({ device: self ? publisher : device, sub: !self });
};

interface Framed {
  readonly device: DeviceId;
  readonly sub: boolean;
  readonly properties: JsonObject | undefined;
  readonly events: JsonObject | undefined;
  readonly pointer: string;
}

/**
 * The envelope of `pack/post` and `history/post`, up to each entry's contents: `params`
 * a non-empty array of objects, each naming a device at most once (its `identity`, or
 * none for the publisher), with `properties` / `events` objects holding at least one
 * point and at most `maxPointsPerDevice`; at most `maxSubDevices` sub-devices, each one
 * `isSubDevice` accepts. Checked in that order, so the code a message gets does not
 * depend on its size.
 */
const readFrames = (
  id: string,
  params: unknown,
  publisher: DeviceId,
  isSubDevice: (device: DeviceId) => boolean,
  thing: ThingLimits,
): Refused<Framed[]> => {
  if (!Array.isArray(params)) return refuse(id, invalid("/params", "must be an array"));
  if (params.length === 0) return refuse(id, invalid("/params", "name at least one device"));
  const frames: Framed[] = [];
  const seen = new Set<string>();
  let subs = 0;
  for (const [i, entry] of (params as unknown[]).entries()) {
    const pointer = `/params/${i}`;
    if (!isObject(entry)) return refuse(id, invalid(pointer, "must be an object"));
    const identity = readIdentity(entry, pointer, publisher);
    if (!identity.ok) return refuse(id, identity.error);
    const { device, sub } = identity.value;
    const key = deviceKey(device);
    if (seen.has(key))
      return refuse(id, invalid(pointer, `device '${key}' appears more than once`));
    seen.add(key);
    if (sub) subs++;
    const properties = hasOwn(entry, "properties") ? entry.properties : undefined;
    const events = hasOwn(entry, "events") ? entry.events : undefined;
    if (properties !== undefined && !isObject(properties))
      return refuse(id, invalid(`${pointer}/properties`, "must be an object"));
    if (events !== undefined && !isObject(events))
      return refuse(id, invalid(`${pointer}/events`, "must be an object"));
    frames.push({ device, sub, properties, events, pointer });
  }
  if (subs > thing.maxSubDevices)
    return refuse(
      id,
      invalid("/params", `${subs} sub-devices; at most ${thing.maxSubDevices} per message`),
      THING_CODES.tooManySubDevices,
    );
  for (const frame of frames) {
    if (frame.sub && !isSubDevice(frame.device))
      return refuse(
        id,
        invalid(
          `${frame.pointer}/identity`,
          `'${deviceKey(frame.device)}' is not a sub-device of '${deviceKey(publisher)}'`,
        ),
        THING_CODES.notASubDevice,
      );
    const points =
      (frame.properties === undefined ? 0 : countKeys(frame.properties)) +
      (frame.events === undefined ? 0 : countKeys(frame.events));
    if (points === 0)
      return refuse(id, invalid(frame.pointer, "name at least one property or event"));
    if (points > thing.maxPointsPerDevice)
      return refuse(
        id,
        invalid(
          frame.pointer,
          `${points} properties and events; at most ${thing.maxPointsPerDevice} per device`,
        ),
        THING_CODES.tooManyPoints,
      );
  }
  return ok(frames);
};

/** `pack/post` or `history/post`, as their exports are called. */
type EntriesReader<E> = (
  payload: Uint8Array | string,
  publisher: DeviceId,
  isSubDevice: (device: DeviceId) => boolean,
  limits?: Limits,
  thing?: ThingLimits,
) => Refused<{ id: string; version: string; entries: E[] }>;

/**
 * The reader of an upload with entries: envelope and frames (`readFrames`), then `step`
 * reading each frame's contents; the first refusal refuses the whole upload.
 */
const entriesReader =
  <E>(step: (frame: Framed, id: string, limits: Limits, thing: ThingLimits) => Refused<E>) =>
  (
    payload: Uint8Array | string,
    publisher: DeviceId,
    isSubDevice: (device: DeviceId) => boolean,
    limits: Limits = defaultLimits,
    thing: ThingLimits = defaultThingLimits,
  ): Refused<{ id: string; version: string; entries: E[] }> =>
    readRequest(payload, limits, (id, params) => {
      const frames = readFrames(id, params, publisher, isSubDevice, thing);
      if (!frames.ok) return frames;
      const entries: E[] = [];
      for (const frame of frames.value) {
        const entry = step(frame, id, limits, thing);
        if (!entry.ok) return entry;
        entries.push(entry.value);
      }
      return ok({ entries });
    });

/**
 * `thing/pack/post` from `publisher` (a direct device or a gateway): `params` an array of
 * `{"identity"?,"properties"?,"events"?}`, one value per property and event. An entry
 * without `identity` (or naming the publisher) is the publisher's; with one, a
 * sub-device `isSubDevice` must accept (else 171). Bounds (`ThingLimits`): sub-devices
 * per message 168, points per device 169. Refused whole: nothing is written for any
 * device unless every entry is good.
 */
export const readThingPack: EntriesReader<ThingPackEntry> = entriesReader(
  (frame, id, limits): Refused<ThingPackEntry> => {
    let properties: ThingProperties | undefined;
    if (frame.properties !== undefined && countKeys(frame.properties) > 0) {
      const read = readProperties(frame.properties, `${frame.pointer}/properties`, limits);
      if (!read.ok) return refuse(id, read.error);
      properties = read.value;
    }
    let events: ThingEvent[] = [];
    if (frame.events !== undefined) {
      const read = readEvents(frame.events, `${frame.pointer}/events`, limits);
      if (!read.ok) return refuse(id, read.error);
      events = read.value;
    }
    return ok({ device: frame.device, sub: frame.sub, properties, events });
  },
);

/** A refusal with its own code (a bound) rather than the error's. */
interface ThingRefusalCode {
  readonly code: ThingErrorCode;
  readonly error: ShadowError;
}

const isCoded = (e: ShadowError | ThingRefusalCode): e is ThingRefusalCode => "code" in e;

/** One identifier's history: a non-empty array of at most `maxHistoryValues` timed values. */
const readSeries = (
  series: unknown,
  identifier: string,
  pointer: string,
  kind: "property" | "event",
  limits: Limits,
  thing: ThingLimits,
  out: ThingHistoryPoint[],
): Result<void, ShadowError | ThingRefusalCode> => {
  if (!Array.isArray(series)) return err(invalid(pointer, "must be an array of {value,time}"));
  if (series.length === 0) return err(invalid(pointer, "name at least one value"));
  if (series.length > thing.maxHistoryValues)
    return err({
      code: THING_CODES.tooManyHistoryValues,
      error: invalid(pointer, `${series.length} values; at most ${thing.maxHistoryValues}`),
    });
  for (const [i, wrapper] of (series as unknown[]).entries()) {
    const at = `${pointer}/${i}`;
    const point = readPoint(wrapper, at, true);
    if (!point.ok) return point;
    const bad = valueProblem(identifier, point.value.value, at, limits, kind);
    if (bad !== undefined) return err(bad);
    const value: ThingHistoryPoint = {
      kind,
      identifier,
      value: point.value.value,
      time: point.value.time as number,
    };
    out.push(value);
  }
  return ok(undefined);
};

/**
 * `thing/history/post` from `publisher`: the envelope of `pack/post`, but each property
 * and event holds an array of `{"value","time"}` (time required), at most
 * `maxHistoryValues` each (else 170). Points come out oldest first.
 */
export const readThingHistory: EntriesReader<ThingHistoryEntry> = entriesReader(
  (frame, id, limits, thing): Refused<ThingHistoryEntry> => {
    const points: ThingHistoryPoint[] = [];
    for (const [kind, group] of [
      ["property", frame.properties],
      ["event", frame.events],
    ] as const) {
      if (group === undefined) continue;
      const base = `${frame.pointer}/${kind === "property" ? "properties" : "events"}`;
      for (const identifier in group) {
        const at = `${base}${toPointer([identifier])}`;
        const problem = identifierProblem(identifier, limits);
        if (problem !== undefined) return refuse(id, invalid(at, problem));
        const read = readSeries(group[identifier], identifier, at, kind, limits, thing, points);
        if (!read.ok)
          return isCoded(read.error)
            ? refuse(id, read.error.error, read.error.code)
            : refuse(id, read.error);
      }
    }
    // Stable: equal times keep the order of the upload.
    points.sort((a, b) => a.time - b.time);
    return ok({
      device: frame.device,
      sub: frame.sub,
      points,
    });
  },
);

/**
 * A device's `…_reply` to a call (`property/set_reply`, `get_reply`,
 * `service/{id}/invoke_reply`): `{"id","code","msg"?,"data"?}`, read as a gateway's
 * reply is (seed 003): `code` and `msg` are the device's own, passed through.
 */
export const readThingCallReply = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Result<OneJsonReply, ShadowError> => {
  const parsed = parseJsonPayload(payload, limits);
  return parsed.ok ? parseGatewayReply(parsed.value) : parsed;
};

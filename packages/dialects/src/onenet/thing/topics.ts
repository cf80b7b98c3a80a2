import type { DeviceId } from "../../device.js";
import { SUBACK_FAILURE, type SubscribeVerdict } from "../../dialect.js";
import { oneNetTopicPrefix, parseOneNetTopic } from "../topics.js";

/**
 * OneNET OneJSON thing-model topics (DIALECTS.md §4.1), all under `$sys/{pid}/{dn}/thing/`.
 * Uploads (device → cloud) are answered on the same topic plus a `/reply` level; calls
 * (cloud → device) are answered by the device on the same topic plus `_reply`.
 */

/** What a device uploads: the topic after `$sys/{pid}/{dn}/thing/`. */
export type ThingUpload =
  | "property/post"
  | "event/post"
  | "property/desired/get"
  | "property/desired/delete"
  | "pack/post"
  | "history/post";

export const THING_UPLOADS: readonly ThingUpload[] = [
  "property/post",
  "event/post",
  "property/desired/get",
  "property/desired/delete",
  "pack/post",
  "history/post",
];

/**
 * A call the cloud makes to a device: property set / get, or a service by its
 * identifier. A `GatewayRequest` (core) is one too.
 */
export type ThingCall =
  | { readonly kind: "property/set" }
  | { readonly kind: "property/get" }
  | { readonly kind: "service/invoke"; readonly identifier: string };

/** What a device publishes on a thing topic, read from the topic alone. */
export type ThingTopicRequest =
  | { readonly kind: "upload"; readonly device: DeviceId; readonly upload: ThingUpload }
  /** The device's `…_reply` to a call: matched to the call by the body's `id`. */
  | { readonly kind: "call-reply"; readonly device: DeviceId; readonly call: ThingCall };

const THING = "thing/";
const UPLOAD_REPLY = "/reply";
const CALL_REPLY = "_reply";
const SERVICE = "service/";
const INVOKE = "/invoke";

/**
 * Longest service identifier read from or written into a topic: the engine's default
 * bound on property names (`Limits.maxKeyLength`), so one name fits both; OneNET's own
 * identifiers are far shorter.
 */
export const MAX_THING_IDENTIFIER_LENGTH = 128;

/**
 * A service identifier as a topic level: not empty, bounded, no wildcard, whitespace or
 * control character, not starting with `$` (as engine property names).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const IDENTIFIER_REFUSED = /[/+#\s\u0000-\u001f\u007f]/;

export const isThingServiceIdentifier = (identifier: string): boolean =>
  identifier.length > 0 &&
  identifier.length <= MAX_THING_IDENTIFIER_LENGTH &&
  identifier[0] !== "$" &&
  !IDENTIFIER_REFUSED.test(identifier);

const UPLOADS: ReadonlyMap<string, ThingUpload> = new Map(
  THING_UPLOADS.map((upload) => [`${THING}${upload}`, upload]),
);

const CALL_REPLIES: ReadonlyMap<string, ThingCall> = new Map([
  [`${THING}property/set${CALL_REPLY}`, { kind: "property/set" }],
  [`${THING}property/get${CALL_REPLY}`, { kind: "property/get" }],
]);

const SERVICE_PREFIX = `${THING}${SERVICE}`;
const INVOKE_REPLY = `${INVOKE}${CALL_REPLY}`;

/**
 * What a device asks by publishing on `suffix` (the topic after `$sys/{pid}/{dn}/`), if
 * it is a thing upload or a call reply; `undefined` for anything else — the cloud's own
 * topics (`…/reply`, `property/set`…), the gateway topics `thing/sub/…` (see
 * `gateway.ts`), a service identifier unfit for a topic.
 */
export const thingRequestOf = (
  suffix: string,
):
  | { readonly kind: "upload"; readonly upload: ThingUpload }
  | { readonly kind: "call-reply"; readonly call: ThingCall }
  | undefined => {
  if (!suffix.startsWith(THING)) return undefined;
  const upload = UPLOADS.get(suffix);
  if (upload !== undefined) return { kind: "upload", upload };
  const call = CALL_REPLIES.get(suffix);
  if (call !== undefined) return { kind: "call-reply", call };
  if (suffix.startsWith(SERVICE_PREFIX) && suffix.endsWith(INVOKE_REPLY)) {
    const identifier = suffix.slice(SERVICE_PREFIX.length, suffix.length - INVOKE_REPLY.length);
    if (isThingServiceIdentifier(identifier))
      return { kind: "call-reply", call: { kind: "service/invoke", identifier } };
  }
  return undefined;
};

/** `thingRequestOf` on a whole topic, naming the device it is about. */
export const parseThingTopic = (topic: string): ThingTopicRequest | undefined => {
  const parsed = parseOneNetTopic(topic);
  if (parsed === undefined) return undefined;
  const request = thingRequestOf(parsed.suffix);
  if (request === undefined) return undefined;
  return request.kind === "upload"
    ? { kind: "upload", device: parsed.device, upload: request.upload }
    : { kind: "call-reply", device: parsed.device, call: request.call };
};

/** `$sys/{pid}/{dn}/thing/{upload}`: where a device uploads. */
export const thingUploadTopic = (device: DeviceId, upload: ThingUpload): string =>
  `${oneNetTopicPrefix(device)}${THING}${upload}`;

/** `$sys/{pid}/{dn}/thing/{upload}/reply`: the cloud's answer to an upload. */
export const thingUploadReplyTopic = (device: DeviceId, upload: ThingUpload): string =>
  `${thingUploadTopic(device, upload)}${UPLOAD_REPLY}`;

/**
 * `$sys/{pid}/{dn}/thing/property/set|get` or `…/thing/service/{identifier}/invoke`: where
 * the cloud calls the device. `undefined` when a service identifier cannot stand in a
 * topic (the caller refuses the call).
 */
export const thingCallTopic = (device: DeviceId, call: ThingCall): string | undefined => {
  const prefix = `${oneNetTopicPrefix(device)}${THING}`;
  if (call.kind !== "service/invoke") return `${prefix}${call.kind}`;
  return isThingServiceIdentifier(call.identifier)
    ? `${prefix}${SERVICE}${call.identifier}${INVOKE}`
    : undefined;
};

/** The device's answer topic to a call: the call's topic plus `_reply`. */
export const thingCallReplyTopic = (device: DeviceId, call: ThingCall): string | undefined => {
  const topic = thingCallTopic(device, call);
  return topic === undefined ? undefined : `${topic}${CALL_REPLY}`;
};

/**
 * Every topic the cloud publishes to a device under `thing/`, as levels after
 * `$sys/{pid}/{dn}/` (`+`: any service identifier). The gateway calls of seed 003 are
 * cloud → device too.
 */
const CLOUD_TOPICS: readonly (readonly string[])[] = [
  ...THING_UPLOADS.map((upload) => `${THING}${upload}${UPLOAD_REPLY}`.split("/")),
  ["thing", "property", "set"],
  ["thing", "property", "get"],
  ["thing", "service", "+", "invoke"],
  ["thing", "sub", "property", "get"],
  ["thing", "sub", "property", "set"],
  ["thing", "sub", "service", "invoke"],
];

/**
 * Whether a filter (levels) matches at least one topic of a pattern (levels, `+` in the
 * pattern standing for any service identifier).
 */
const reaches = (filter: readonly string[], pattern: readonly string[]): boolean => {
  for (let i = 0; ; i++) {
    const level = filter[i];
    if (level === "#") return true; // also matches the parent level
    if (i === pattern.length) return i === filter.length;
    if (level === undefined) return false;
    const want = pattern[i] as string;
    if (level === "+") continue;
    if (want === "+" ? !isThingServiceIdentifier(level) : level !== want) return false;
  }
};

/**
 * SUBACK verdict for a filter on a device's thing topics: `$sys/{pid}/{dn}/thing…`
 * (`undefined` for any other filter: the OneNET dialect's own verdict applies). The
 * device levels must be spelled out and usable by the session (`mayUse`: its own, or
 * a sub-device's its gateway acts for); the rest must reach at least one topic the
 * cloud publishes there — a reply, a call. A filter that can only match what the device
 * itself publishes (`thing/property/post`, `…/set_reply`) or nothing at all is `0x80`,
 * never a disconnect. Granted at QoS 0: every cloud → device message is QoS 0.
 */
export const thingSubscribeVerdict = (
  filter: string,
  _requestedQos: 0 | 1 | 2,
  mayUse: (device: DeviceId) => boolean,
): SubscribeVerdict | undefined => {
  const parsed = parseOneNetTopic(filter);
  if (parsed === undefined) return undefined;
  const levels = parsed.suffix.split("/");
  if (levels[0] !== "thing") return undefined;
  const { productId, deviceName } = parsed.device;
  if (/[+#]/.test(productId) || /[+#]/.test(deviceName) || !mayUse(parsed.device))
    return SUBACK_FAILURE;
  return CLOUD_TOPICS.some((pattern) => reaches(levels, pattern)) ? 0 : SUBACK_FAILURE;
};

/**
 * The correlation a thing upload's answer needs, as one string for the command header's
 * topic token and the events' `clientToken`: `{upload}:{id}` (`id` empty when the
 * request's could not be read). An id is digits only, so the last `:` splits it.
 */
export const thingToken = (upload: ThingUpload, id: string | null): string =>
  `${upload}:${id ?? ""}`;

/** `thingToken` read back; `undefined` for a token that is not one. */
export const parseThingToken = (
  token: string,
): { readonly upload: ThingUpload; readonly id: string | null } | undefined => {
  const colon = token.lastIndexOf(":");
  if (colon === -1) return undefined;
  const upload = token.slice(0, colon) as ThingUpload;
  if (!THING_UPLOADS.includes(upload)) return undefined;
  const id = token.slice(colon + 1);
  if (id !== "" && !/^[0-9]{1,13}$/.test(id)) return undefined;
  return { upload, id: id === "" ? null : id };
};

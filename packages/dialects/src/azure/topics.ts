import { type DeviceId, nameProblem } from "../device.js";
import { SUBACK_FAILURE, type SubscribeVerdict } from "../dialect.js";

/**
 * Azure IoT Hub device topics (DIALECTS.md §2.1). The twin and method topics
 * (`$iothub/…`) name no device at all — they are the connection's own — and the
 * telemetry topic `devices/{id}/…` names the device but not the hub: the product is
 * always the session's (the hub host name in the username). A parsed device's
 * `productId` is therefore `AZURE_SESSION_PRODUCT` (empty, never a valid id, so a
 * caller that forgets to put the session's product there compares unequal: fails closed).
 */
export const AZURE_SESSION_PRODUCT = "";

/**
 * The device of a `$iothub/…` topic, which names none: the connection's own. The edge
 * reads an empty product and name as the session's device.
 */
export const SESSION_DEVICE: DeviceId = { productId: AZURE_SESSION_PRODUCT, deviceName: "" };

/**
 * Longest `$rid` read. The Node SDK sends a UUID (36 characters), the C SDKs a decimal
 * counter; 128 leaves room for any SDK while an answer topic stays small.
 */
export const MAX_AZURE_RID_LENGTH = 128;

/**
 * Longest topic read, in UTF-16 code units. A telemetry topic carries the message's
 * property bag; IoT Hub counts it into the 256 KB message, Umbra bounds it on its own so
 * a topic is never split and decoded at any length.
 */
export const MAX_AZURE_TOPIC_LENGTH = 4096;

/** Most properties one telemetry message's bag may hold. */
export const MAX_AZURE_TELEMETRY_PROPERTIES = 64;

/** What a device publishes, read from its topic. `rid` is kept exactly as sent. */
export type AzureDeviceRequest =
  | { readonly kind: "twin-get"; readonly rid: string }
  | { readonly kind: "twin-reported"; readonly rid: string }
  | { readonly kind: "method-response"; readonly rid: string; readonly status: number }
  | {
      readonly kind: "telemetry";
      readonly deviceId: string;
      /** The property bag, keys and values URL-decoded; system properties keep `$.` names. */
      readonly properties: { readonly [key: string]: string };
    };

const TWIN_GET = "$iothub/twin/GET/?";
const TWIN_REPORTED = "$iothub/twin/PATCH/properties/reported/?";
const METHOD_RES = "$iothub/methods/res/";
const DEVICES = "devices/";
const EVENTS = "/messages/events";

const IOTHUB = "$iothub/";
const TWIN_RES_FILTER = "$iothub/twin/res/#";
const DESIRED_FILTER = "$iothub/twin/PATCH/properties/desired/#";
const METHODS_FILTER = "$iothub/methods/POST/#";
const DEVICEBOUND = "/messages/devicebound/#";

/**
 * A `$rid` is echoed into an answer topic, so it must be usable there: not empty,
 * bounded, and without what would change the answer's levels or query (`/`, `&`, `?`,
 * `#`, `+`, control characters, whitespace). Everything else stays byte for byte —
 * the Node SDK matches answers with `querystring.parse`, so the device's own spelling
 * (percent escapes included) must come back.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const RID_REFUSED = /[/&?#+\s\u0000-\u001f\u007f]/;

export const isAzureRid = (rid: string): boolean =>
  rid.length > 0 && rid.length <= MAX_AZURE_RID_LENGTH && !RID_REFUSED.test(rid);

/**
 * The `$rid` of a query (`$rid=…[&other=…]`), or `undefined` when it is missing,
 * repeated or not usable. Other parameters are ignored: the SDKs add none today, and
 * a future one must not make a request unanswerable.
 */
const ridOf = (query: string): string | undefined => {
  let rid: string | undefined;
  for (const pair of query.split("&")) {
    if (!pair.startsWith("$rid=")) continue;
    if (rid !== undefined) return undefined;
    rid = pair.slice(5);
  }
  return rid !== undefined && isAzureRid(rid) ? rid : undefined;
};

/** A method status: a decimal integer the SDK took from the application (`200`, `404`). */
const STATUS = /^[0-9]{1,9}$/;

/**
 * Decodes a property bag as the Node SDK encodes it: `k=v` pairs joined by `&`, each
 * side URL-encoded (`querystring.stringify` for system properties, `encodeURIComponent`
 * for the application's). A pair without `=` is a key with an empty value, as
 * `querystring.parse` reads it. `undefined` for a bad escape, an empty key, or more
 * than `MAX_AZURE_TELEMETRY_PROPERTIES` pairs.
 */
export const decodeAzurePropertyBag = (
  bag: string,
): { readonly [key: string]: string } | undefined => {
  const properties: Record<string, string> = {};
  if (bag.length === 0) return properties;
  const pairs = bag.split("&", MAX_AZURE_TELEMETRY_PROPERTIES + 1);
  if (pairs.length > MAX_AZURE_TELEMETRY_PROPERTIES) return undefined;
  for (const pair of pairs) {
    if (pair.length === 0) continue; // `a=1&&b=2`, as querystring reads it
    const eq = pair.indexOf("=");
    try {
      const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
      const value = eq === -1 ? "" : decodeURIComponent(pair.slice(eq + 1));
      if (key.length === 0) return undefined;
      // A plain object built from device input: `__proto__` must stay an own key.
      Object.defineProperty(properties, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } catch {
      return undefined;
    }
  }
  return properties;
};

/** Encodes a property bag as the SDK does, for tests and the C2D direction. */
export const encodeAzurePropertyBag = (properties: { readonly [key: string]: string }): string =>
  Object.entries(properties)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");

/**
 * Reads a topic a device published to (DIALECTS.md §2.1): the twin GET, a reported
 * patch, a method result or telemetry. `undefined` for anything else: the hub's own
 * topics, a missing or unusable `$rid`, a status that is no integer, a module's
 * telemetry (`devices/{id}/modules/…`), a topic past `MAX_AZURE_TOPIC_LENGTH`.
 */
export const parseAzureTopic = (topic: string): AzureDeviceRequest | undefined => {
  if (topic.length > MAX_AZURE_TOPIC_LENGTH) return undefined;
  if (topic.startsWith(IOTHUB)) {
    if (topic.startsWith(TWIN_GET)) {
      const rid = ridOf(topic.slice(TWIN_GET.length));
      return rid === undefined ? undefined : { kind: "twin-get", rid };
    }
    if (topic.startsWith(TWIN_REPORTED)) {
      const rid = ridOf(topic.slice(TWIN_REPORTED.length));
      return rid === undefined ? undefined : { kind: "twin-reported", rid };
    }
    if (topic.startsWith(METHOD_RES)) {
      const rest = topic.slice(METHOD_RES.length);
      const end = rest.indexOf("/?");
      if (end === -1) return undefined;
      const status = rest.slice(0, end);
      if (!STATUS.test(status)) return undefined;
      const rid = ridOf(rest.slice(end + 2));
      return rid === undefined
        ? undefined
        : { kind: "method-response", rid, status: Number(status) };
    }
    return undefined;
  }
  if (!topic.startsWith(DEVICES)) return undefined;
  const slash = topic.indexOf("/", DEVICES.length);
  if (slash === -1) return undefined;
  const deviceId = topic.slice(DEVICES.length, slash);
  if (nameProblem("device id", deviceId) !== undefined) return undefined;
  if (!topic.startsWith(EVENTS, slash)) return undefined;
  const after = slash + EVENTS.length;
  // `…/messages/events` alone, or `…/messages/events/{bag}` (the SDK always sends the `/`).
  if (after === topic.length)
    return { kind: "telemetry", deviceId, properties: decodeAzurePropertyBag("") ?? {} };
  if (topic[after] !== "/") return undefined;
  const bag = topic.slice(after + 1);
  if (bag.includes("/")) return undefined;
  const properties = decodeAzurePropertyBag(bag);
  return properties === undefined ? undefined : { kind: "telemetry", deviceId, properties };
};

/** The device a telemetry topic names in a session (see `AZURE_SESSION_PRODUCT`). */
export const azureDeviceOf = (deviceId: string): DeviceId => ({
  productId: AZURE_SESSION_PRODUCT,
  deviceName: deviceId,
});

/** `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`: answer to a GET or a reported patch. */
export const azureTwinResponseTopic = (status: number, rid: string, version?: number): string =>
  version === undefined
    ? `$iothub/twin/res/${status}/?$rid=${rid}`
    : `$iothub/twin/res/${status}/?$rid=${rid}&$version=${version}`;

/** `$iothub/twin/PATCH/properties/desired/?$version={v}`: a desired change pushed to the device. */
export const azureDesiredPatchTopic = (version: number): string =>
  `$iothub/twin/PATCH/properties/desired/?$version=${version}`;

/**
 * A method name as a topic level: 1–128 characters (IoT Hub's own bound on method
 * names) of anything but topic separators, wildcards, `?` and control characters. A
 * Plug and Play command is `{component}*{command}`, so `*` is allowed.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const METHOD_REFUSED = /[/?#+\s\u0000-\u001f\u007f]/;
export const MAX_AZURE_METHOD_NAME_LENGTH = 128;

export const isAzureMethodName = (name: string): boolean =>
  name.length > 0 && name.length <= MAX_AZURE_METHOD_NAME_LENGTH && !METHOD_REFUSED.test(name);

/**
 * `$iothub/methods/POST/{method}/?$rid={rid}`: a direct method call, or `undefined`
 * when the method name or rid cannot be written into a topic (the caller fails the call).
 */
export const azureMethodCallTopic = (method: string, rid: string): string | undefined =>
  isAzureMethodName(method) && isAzureRid(rid)
    ? `$iothub/methods/POST/${method}/?$rid=${rid}`
    : undefined;

/**
 * SUBACK verdict for a filter in Azure's form (`undefined`: not Azure's, another dialect
 * is asked). Granted, at QoS ≤ 1 (IoT Hub grants 1 for 2), are exactly the filters the
 * SDKs subscribe (DIALECTS.md §2.1): `$iothub/twin/res/#`,
 * `$iothub/twin/PATCH/properties/desired/#`, `$iothub/methods/POST/#`, and
 * `devices/{id}/messages/devicebound/#` for a device the session may use. Anything else
 * under `$iothub/` or `devices/` — another device's, a narrower or wider filter, a
 * wildcard for the device id — is 0x80, never a disconnect, as IoT Hub accepts only the
 * documented filters.
 */
export const azureSubscribeVerdict = (
  filter: string,
  requestedQos: 0 | 1 | 2,
  mayUse: (device: DeviceId) => boolean,
): SubscribeVerdict | undefined => {
  const granted: SubscribeVerdict = requestedQos === 0 ? 0 : 1;
  if (filter.startsWith(IOTHUB))
    return filter === TWIN_RES_FILTER || filter === DESIRED_FILTER || filter === METHODS_FILTER
      ? granted
      : SUBACK_FAILURE;
  if (!filter.startsWith(DEVICES)) return undefined;
  const slash = filter.indexOf("/", DEVICES.length);
  if (slash === -1) return SUBACK_FAILURE;
  const deviceId = filter.slice(DEVICES.length, slash);
  if (nameProblem("device id", deviceId) !== undefined || !mayUse(azureDeviceOf(deviceId)))
    return SUBACK_FAILURE;
  return filter.slice(slash) === DEVICEBOUND ? granted : SUBACK_FAILURE;
};

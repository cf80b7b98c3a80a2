import { type DeviceId, nameProblem } from "../device.js";
import { SUBACK_FAILURE, type SubscribeVerdict } from "../dialect.js";

/**
 * AWS IoT Device Shadow topics (DIALECTS.md §1.1): `P` = `$aws/things/{thing}/shadow`
 * (classic) or `$aws/things/{thing}/shadow/name/{shadow}` (named); the device publishes
 * `P/update|get|delete` and receives `P/{op}/accepted|rejected`, `P/update/delta` and
 * `P/update/documents`.
 *
 * Thing name = device name. AWS topics carry no product: a parsed device's `productId`
 * is `SESSION_PRODUCT` (empty), which the edge must replace with the session's product
 * before it checks or routes anything. An empty product id is no valid one
 * (`nameProblem`), so a caller that forgets compares unequal and refuses: fails closed.
 */
export const SESSION_PRODUCT = "";

/** What a device publishes: the shadow operation it asks for. */
export type AwsShadowOp = "update" | "get" | "delete";

/** What the cloud answers on, below `P/`. */
export type AwsAnswer =
  | "update/accepted"
  | "update/rejected"
  | "update/delta"
  | "update/documents"
  | "get/accepted"
  | "get/rejected"
  | "delete/accepted"
  | "delete/rejected";

const ANSWERS: readonly AwsAnswer[] = [
  "update/accepted",
  "update/rejected",
  "update/delta",
  "update/documents",
  "get/accepted",
  "get/rejected",
  "delete/accepted",
  "delete/rejected",
];

export interface AwsShadowRequest {
  readonly thing: string;
  /** `undefined`: the classic shadow. */
  readonly shadow: string | undefined;
  readonly op: AwsShadowOp;
}

const THINGS = "$aws/things/";
const SHADOW = "shadow";
const NAME = "name";

/** AWS shadow names: 1–64 of `[$a-zA-Z0-9:_-]` (GetThingShadow reference). */
const SHADOW_NAME = /^[$a-zA-Z0-9:_-]{1,64}$/;

export const isAwsShadowName = (name: string): boolean => SHADOW_NAME.test(name);

/**
 * Thing names are Umbra device names (`nameProblem`): every device Umbra knows may
 * speak AWS, even one whose name AWS's own `[a-zA-Z0-9:_-]` would not allow.
 */
const isThingName = (name: string): boolean => nameProblem("thing name", name) === undefined;

const prefix = (thing: string, shadow: string | undefined): string =>
  shadow === undefined
    ? `${THINGS}${thing}/${SHADOW}/`
    : `${THINGS}${thing}/${SHADOW}/${NAME}/${shadow}/`;

/** The topic a device publishes a request to. */
export const awsRequestTopic = (thing: string, shadow: string | undefined, op: AwsShadowOp) =>
  `${prefix(thing, shadow)}${op}`;

/** The topic of an answer or push. */
export const awsAnswerTopic = (thing: string, shadow: string | undefined, answer: AwsAnswer) =>
  `${prefix(thing, shadow)}${answer}`;

const isOp = (s: string): s is AwsShadowOp => s === "update" || s === "get" || s === "delete";

/**
 * Reads a topic a device published to: `undefined` for anything but a well-formed
 * `P/update|get|delete` (the answer topics are the cloud's to publish).
 */
export const parseAwsRequestTopic = (topic: string): AwsShadowRequest | undefined => {
  if (!topic.startsWith(THINGS)) return undefined;
  const levels = topic.slice(THINGS.length).split("/");
  const thing = levels[0] as string;
  if (!isThingName(thing) || levels[1] !== SHADOW) return undefined;
  if (levels.length === 3) {
    const op = levels[2] as string;
    return isOp(op) ? { thing, shadow: undefined, op } : undefined;
  }
  if (levels.length !== 5 || levels[2] !== NAME) return undefined;
  const shadow = levels[3] as string;
  const op = levels[4] as string;
  return isAwsShadowName(shadow) && isOp(op) ? { thing, shadow, op } : undefined;
};

/** The device a thing name stands for in a session (see `SESSION_PRODUCT`). */
export const awsDeviceOf = (thing: string): DeviceId => ({
  productId: SESSION_PRODUCT,
  deviceName: thing,
});

/** A named shadow's place in a pattern: any valid shadow name, or `+`. */
const ANY_SHADOW = "\u0000shadow";

/** Every topic the cloud sends on, as levels below `$aws/things/{thing}/`. */
const ANSWER_PATTERNS: readonly (readonly string[])[] = ANSWERS.flatMap((answer) => [
  [SHADOW, ...answer.split("/")],
  [SHADOW, NAME, ANY_SHADOW, ...answer.split("/")],
]);

/** Whether filter levels can match some topic of `pattern` (`+`, `#` as in MQTT). */
const reaches = (filter: readonly string[], pattern: readonly string[]): boolean => {
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i] as string;
    if (f === "#") return i === filter.length - 1;
    if (i >= pattern.length) return false;
    if (f === "+") continue;
    const p = pattern[i] as string;
    if (p === ANY_SHADOW ? !isAwsShadowName(f) : f !== p) return false;
  }
  return filter.length === pattern.length;
};

/**
 * SUBACK verdict for a `$aws/…` filter. Granted, at QoS ≤ 1 (shadows send no QoS 2),
 * when the thing level is spelled out, is a thing the session may use, and the rest
 * can reach one of that thing's shadow answer topics, wildcards included: the v2
 * client subscribes `…/get/+` and `…/delete/+`, and `…/shadow/#` only ever reaches
 * the thing's own messages. A wildcard at the thing level or above, another thing, or
 * a filter that reaches no shadow answer (`…/shadow/update`, `…/jobs/…`) is 0x80 —
 * never a disconnect: v1 fails its registration on a 0x80, v2 its request.
 */
export const awsSubscribeVerdict = (
  filter: string,
  requestedQos: 0 | 1 | 2,
  mayUse: (device: DeviceId) => boolean,
): SubscribeVerdict => {
  if (!filter.startsWith(THINGS)) return SUBACK_FAILURE;
  const levels = filter.slice(THINGS.length).split("/");
  const thing = levels[0] as string;
  if (!isThingName(thing) || !mayUse(awsDeviceOf(thing))) return SUBACK_FAILURE;
  const rest = levels.slice(1);
  if (!ANSWER_PATTERNS.some((pattern) => reaches(rest, pattern))) return SUBACK_FAILURE;
  return requestedQos === 0 ? 0 : 1;
};

/**
 * The named shadow a `$aws/…` filter spells out (`…/shadow/name/{shadow}/…`), or
 * `undefined` (the classic shadow's filters, a `+` or `#` in the name's place, any other
 * filter). The edge names it in the `sync` a granted filter asks for.
 */
export const awsNamedShadowOf = (filter: string): string | undefined => {
  if (!filter.startsWith(THINGS)) return undefined;
  const levels = filter.slice(THINGS.length).split("/");
  if (levels[1] !== SHADOW || levels[2] !== NAME) return undefined;
  const shadow = levels[3];
  return shadow !== undefined && isAwsShadowName(shadow) ? shadow : undefined;
};

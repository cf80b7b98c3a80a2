import type { GatewayRequest } from "@umbra/core";
import type { DeviceId } from "../device.js";
import type { ThingCall } from "./thing/topics.js";
import { oneNetTopicPrefix } from "./topics.js";

/**
 * OneNET gateway / sub-device topics (seed 003). The cloud publishes a call to the
 * gateway on `$sys/{pid}/{gateway}/thing/sub/{kind}`; the gateway answers on the same
 * topic plus `_reply`. The envelopes and replies themselves are the engine's
 * (`buildGatewayRequest`, `parseGatewayReply` in @umbra/core).
 */
export type GatewayCall = GatewayRequest["kind"];

export const GATEWAY_CALLS: readonly GatewayCall[] = [
  "property/get",
  "property/set",
  "service/invoke",
];

/**
 * A call made to a device itself on its thing-model topics (`thing/property/set`,
 * `thing/property/get`, `thing/service/{identifier}/invoke`), which it answers on the
 * same topic plus `_reply`.
 */
export interface DirectCall {
  readonly direct: ThingCall;
}

/**
 * The call a device's `…_reply` answers: a gateway's call for one of its sub-devices,
 * named by its kind as seed 003 has always been, or a call to the device itself.
 */
export type RepliedCall = GatewayCall | DirectCall;

export const isDirectCall = (call: RepliedCall): call is DirectCall => typeof call !== "string";

/**
 * Whether two replied calls are the same call: kind, whom it was made to, and for a
 * direct service call its identifier (a reply on another service's topic answers
 * another call).
 */
export const sameRepliedCall = (a: RepliedCall, b: RepliedCall): boolean => {
  if (!isDirectCall(a) || !isDirectCall(b)) return a === b;
  const x = a.direct;
  const y = b.direct;
  if (x.kind !== y.kind) return false;
  return x.kind !== "service/invoke" || x.identifier === (y as typeof x).identifier;
};

const CALL_PREFIX = "thing/sub/";
const REPLY = "_reply";

/** The topic a call is published on, to the gateway. */
export const gatewayCallTopic = (gateway: DeviceId, call: GatewayCall): string =>
  `${oneNetTopicPrefix(gateway)}${CALL_PREFIX}${call}`;

/** The reply topic of a call: where the gateway answers it. */
export const gatewayReplyTopic = (gateway: DeviceId, call: GatewayCall): string =>
  `${gatewayCallTopic(gateway, call)}${REPLY}`;

const REPLY_SUFFIXES: ReadonlyMap<string, GatewayCall> = new Map(
  GATEWAY_CALLS.map((call) => [`${CALL_PREFIX}${call}${REPLY}`, call]),
);

/** Which call a gateway answers by publishing on `suffix` (after `$sys/{pid}/{dn}/`), if any. */
export const gatewayReplyOf = (suffix: string): GatewayCall | undefined =>
  REPLY_SUFFIXES.get(suffix);

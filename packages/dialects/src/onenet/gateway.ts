import type { GatewayRequest } from "@umbra/core";
import type { DeviceId } from "../device.js";
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

import type { DeviceId } from "../device.js";
import { SUBACK_FAILURE, type SubscribeVerdict } from "../dialect.js";

/**
 * Alibaba shadow topics (DIALECTS.md §3.1): the device publishes requests to
 * `/shadow/update/{pk}/{dn}` and receives replies and control messages on
 * `/shadow/get/{pk}/{dn}`.
 */
export type AliyunTopicKind = "update" | "get";

export interface AliyunTopic extends DeviceId {
  readonly kind: AliyunTopicKind;
}

const UPDATE_PREFIX = "/shadow/update/";
const GET_PREFIX = "/shadow/get/";

export const aliyunUpdateTopic = (d: DeviceId): string =>
  `${UPDATE_PREFIX}${d.productId}/${d.deviceName}`;
export const aliyunGetTopic = (d: DeviceId): string =>
  `${GET_PREFIX}${d.productId}/${d.deviceName}`;

/** Reads a topic name once; `undefined` for anything that is not a shadow topic. */
export const parseAliyunTopic = (topic: string): AliyunTopic | undefined => {
  let kind: AliyunTopicKind;
  let start: number;
  if (topic.startsWith(UPDATE_PREFIX)) {
    kind = "update";
    start = UPDATE_PREFIX.length;
  } else if (topic.startsWith(GET_PREFIX)) {
    kind = "get";
    start = GET_PREFIX.length;
  } else return undefined;
  const slash = topic.indexOf("/", start);
  if (slash <= start || slash === topic.length - 1 || topic.indexOf("/", slash + 1) !== -1)
    return undefined;
  const productId = topic.slice(start, slash);
  const deviceName = topic.slice(slash + 1);
  // Wildcards are no names: a filter such as `/shadow/get/+/dn` is not a topic.
  if (/[+#]/.test(productId) || /[+#]/.test(deviceName)) return undefined;
  return { productId, deviceName, kind };
};

const own = (d: DeviceId, t: AliyunTopic): boolean =>
  t.productId === d.productId && t.deviceName === d.deviceName;

/** A device may publish requests only to its own `/shadow/update/{pk}/{dn}`. */
export const aliyunMayPublish = (device: DeviceId, topic: string): boolean => {
  const t = parseAliyunTopic(topic);
  return t !== undefined && t.kind === "update" && own(device, t);
};

/**
 * SUBACK verdict for one filter. Granted (QoS at most 1, what the shadow sends) only
 * for the device's own `/shadow/get/{pk}/{dn}`, spelled out; everything else is 0x80:
 * wildcards could reach other devices, and the other 15 filters the SDK subscribes on
 * every connect (`/sys/{pk}/{dn}/thing/…`, `/ext/session/…`, `/sys/…/rrpc/request/+`)
 * are services Umbra does not provide. The SDK ignores a failed SUBACK; a disconnect
 * would put it in a reconnect loop, so the caller answers, never closes.
 */
export const aliyunSubscribeVerdict = (
  device: DeviceId,
  filter: string,
  requestedQos: 0 | 1 | 2 = 1,
): SubscribeVerdict => {
  const t = parseAliyunTopic(filter);
  if (t === undefined || t.kind !== "get" || !own(device, t)) return SUBACK_FAILURE;
  return requestedQos === 0 ? 0 : 1;
};

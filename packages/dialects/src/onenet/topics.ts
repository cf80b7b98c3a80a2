import type { DeviceId } from "../device.js";

/**
 * OneNET device image topics (seed 000): `$sys/{pid}/{device-name}/image/...`.
 * Devices publish `image/update` and `image/get`; the cloud answers on the others.
 */
export const ONENET_IMAGE = {
  update: "image/update",
  updateAccepted: "image/update/accepted",
  updateRejected: "image/update/rejected",
  updateDelta: "image/update/delta",
  get: "image/get",
  getAccepted: "image/get/accepted",
  getRejected: "image/get/rejected",
} as const;

export type OneNetImageTopic = (typeof ONENET_IMAGE)[keyof typeof ONENET_IMAGE];

/** What a device asks for on a topic it may publish to. */
export type OneNetRequest = "update" | "get";

const SYS = "$sys/";

/** `$sys/{pid}/{dn}/` — every topic of one device starts with it. */
export const oneNetTopicPrefix = (device: DeviceId): string =>
  `${SYS}${device.productId}/${device.deviceName}/`;

export const oneNetTopic = (device: DeviceId, suffix: OneNetImageTopic): string =>
  `${oneNetTopicPrefix(device)}${suffix}`;

export interface ParsedOneNetTopic {
  readonly device: DeviceId;
  /** The part after `$sys/{pid}/{dn}/`. */
  readonly suffix: string;
}

/** Splits `$sys/{pid}/{dn}/{suffix}`; `undefined` if the topic is not of that form. */
export const parseOneNetTopic = (topic: string): ParsedOneNetTopic | undefined => {
  if (!topic.startsWith(SYS)) return undefined;
  const pidEnd = topic.indexOf("/", SYS.length);
  if (pidEnd <= SYS.length) return undefined;
  const dnEnd = topic.indexOf("/", pidEnd + 1);
  if (dnEnd <= pidEnd + 1 || dnEnd === topic.length - 1) return undefined;
  return {
    device: {
      productId: topic.slice(SYS.length, pidEnd),
      deviceName: topic.slice(pidEnd + 1, dnEnd),
    },
    suffix: topic.slice(dnEnd + 1),
  };
};

/** The request a device makes by publishing on `suffix`, if it is one. */
export const oneNetRequestOf = (suffix: string): OneNetRequest | undefined =>
  suffix === ONENET_IMAGE.update ? "update" : suffix === ONENET_IMAGE.get ? "get" : undefined;

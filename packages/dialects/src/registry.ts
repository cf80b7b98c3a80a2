import { aliyunDialect } from "./aliyun/dialect.js";
import { awsDialect } from "./aws/dialect.js";
import { azureDialect } from "./azure/dialect.js";
import type { DeviceId } from "./device.js";
import {
  type AuthRefusal,
  type Claim,
  type DeviceDialect,
  SUBACK_FAILURE,
  type SubscribeVerdict,
  type TopicRequest,
} from "./dialect.js";
import type { DialectName } from "./events.js";
import { oneNetDialect } from "./onenet/dialect.js";

/**
 * Every dialect Umbra speaks. The services know dialects only through this table: a
 * new dialect is its folder plus one entry here. Topic forms are disjoint (`$sys/…`,
 * `/shadow/…`, `$aws/…`, `$iothub/…`), so the order matters only for CONNECT forms.
 */
export const DEVICE_DIALECTS: readonly DeviceDialect[] = [
  oneNetDialect,
  aliyunDialect,
  awsDialect,
  azureDialect,
];

/**
 * Asked in this order at CONNECT: distinctive forms first, OneNET's (username = product
 * id, client id = device name) last, as the fallback every other CONNECT falls to.
 */
const RECOGNITION_ORDER: readonly DeviceDialect[] = [aliyunDialect, azureDialect, oneNetDialect];

const BY_NAME: ReadonlyMap<string, DeviceDialect> = new Map(
  DEVICE_DIALECTS.map((d) => [d.name, d]),
);

/** The dialect a command came in through; `undefined` for a cloud caller's (it has none). */
export const dialectNamed = (name: DialectName | undefined): DeviceDialect | undefined =>
  name === undefined ? undefined : BY_NAME.get(name);

/** A CONNECT's claim in the first dialect whose form it has, or why it is refused. */
export const recogniseConnect = (clientId: string, username: string): Claim | AuthRefusal => {
  for (const dialect of RECOGNITION_ORDER) {
    const outcome = dialect.recognise(clientId, username);
    if (outcome !== undefined) return outcome;
  }
  return { ok: false, reason: "the CONNECT is in no dialect's form" };
};

/** A published topic read once by the dialect whose form it has; `undefined`: none's. */
export const parseDeviceTopic = (topic: string): TopicRequest | undefined => {
  for (const dialect of DEVICE_DIALECTS) {
    const request = dialect.parseTopic(topic);
    if (request !== undefined) return request;
  }
  return undefined;
};

/** The SUBACK verdict of the dialect whose form the filter has; 0x80 when none's. */
export const subscribeVerdictOf = (
  filter: string,
  requestedQos: 0 | 1 | 2,
  mayUse: (device: DeviceId) => boolean,
): SubscribeVerdict => {
  for (const dialect of DEVICE_DIALECTS) {
    const verdict = dialect.subscribeVerdict(filter, requestedQos, mayUse);
    if (verdict !== undefined) return verdict;
  }
  return SUBACK_FAILURE;
};

import type { DeviceId } from "../device.js";
import { oneNetTopicPrefix } from "./topics.js";

/**
 * OneNET gateway / sub-device calls (seed 003). The cloud publishes a request to the
 * gateway on `$sys/{pid}/{gateway}/thing/sub/…` with a OneJSON envelope naming the
 * sub-device; the gateway answers on the same topic plus `_reply`, with the request's `id`.
 */
export const GATEWAY_CALLS = {
  propertyGet: "thing/sub/property/get",
  propertySet: "thing/sub/property/set",
  serviceInvoke: "thing/sub/service/invoke",
} as const;

export type GatewayCall = keyof typeof GATEWAY_CALLS;

const REPLY = "_reply";

/** Seed 003: a get or set names at most 50 properties. */
export const MAX_SUB_PROPERTIES = 50;
/** Seed 003: the gateway has 5 s to answer. */
export const GATEWAY_TIMEOUT_MS = 5_000;
/** Seed 003: `id` is a string of digits, at most 13 of them. */
export const MAX_GATEWAY_ID_DIGITS = 13;
/** The envelope's `version` when the caller gives none (seed 003: default "1.0"). */
export const DEFAULT_THING_MODEL_VERSION = "1.0";

/** The topic a call is published on, to the gateway. */
export const gatewayCallTopic = (gateway: DeviceId, call: GatewayCall): string =>
  `${oneNetTopicPrefix(gateway)}${GATEWAY_CALLS[call]}`;

/** The reply topic of a call: where the gateway answers it. */
export const gatewayReplyTopic = (gateway: DeviceId, call: GatewayCall): string =>
  `${gatewayCallTopic(gateway, call)}${REPLY}`;

const REPLY_SUFFIXES: ReadonlyMap<string, GatewayCall> = new Map(
  (Object.keys(GATEWAY_CALLS) as GatewayCall[]).map((call) => [
    `${GATEWAY_CALLS[call]}${REPLY}`,
    call,
  ]),
);

/** Which call a gateway answers by publishing on `suffix` (after `$sys/{pid}/{dn}/`), if any. */
export const gatewayReplyOf = (suffix: string): GatewayCall | undefined =>
  REPLY_SUFFIXES.get(suffix);

const ID = /^\d{1,13}$/;

export const isGatewayMessageId = (id: unknown): id is string =>
  typeof id === "string" && ID.test(id);

/** What each call carries besides the sub-device. */
export type GatewayCallParams =
  | { readonly call: "propertyGet"; readonly identifiers: readonly string[] }
  | { readonly call: "propertySet"; readonly values: Readonly<Record<string, unknown>> }
  | {
      readonly call: "serviceInvoke";
      readonly identifier: string;
      readonly input: Readonly<Record<string, unknown>>;
    };

/** The OneJSON request envelope of seed 003, as the gateway receives it. */
export const gatewayRequest = (
  id: string,
  version: string,
  sub: DeviceId,
  params: GatewayCallParams,
): string => {
  const inner =
    params.call === "propertyGet"
      ? { deviceName: sub.deviceName, productID: sub.productId, params: params.identifiers }
      : params.call === "propertySet"
        ? { deviceName: sub.deviceName, productID: sub.productId, params: params.values }
        : {
            deviceName: sub.deviceName,
            productID: sub.productId,
            identifier: params.identifier,
            input: params.input,
          };
  return JSON.stringify({ id, version, params: inner });
};

/** A gateway's `…_reply`, read. `code` and `msg` are the gateway's own (seed 003). */
export interface GatewayReply {
  readonly id: string;
  readonly code: number;
  readonly msg: string | undefined;
  readonly data: unknown;
}

export type ReadGatewayReply =
  | { readonly ok: true; readonly reply: GatewayReply }
  | { readonly ok: false; readonly problem: string; readonly id?: string };

/**
 * Reads a reply payload: a JSON object with a digit-string `id` and an integer `code`;
 * `msg` a string and `data` an object when present. The id is kept on a bad reply when
 * it can be read, so that the waiting call learns its gateway answered nonsense.
 */
export const readGatewayReply = (payload: Uint8Array): ReadGatewayReply => {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString());
  } catch {
    return { ok: false, problem: "the reply is not JSON" };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, problem: "the reply is not a JSON object" };
  const { id, code, msg, data } = body as Record<string, unknown>;
  if (!isGatewayMessageId(id))
    return { ok: false, problem: "the reply's id is not a string of at most 13 digits" };
  if (typeof code !== "number" || !Number.isInteger(code))
    return { ok: false, problem: "the reply's code is not an integer", id };
  if (msg !== undefined && typeof msg !== "string")
    return { ok: false, problem: "the reply's msg is not a string", id };
  if (data !== undefined && (typeof data !== "object" || data === null || Array.isArray(data)))
    return { ok: false, problem: "the reply's data is not an object", id };
  return { ok: true, reply: { id, code, msg, data } };
};

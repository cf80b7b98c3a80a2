/**
 * OneNET gateway sub-device calls (seed 003): the OneJSON envelopes the cloud sends a
 * gateway on `$sys/{pid}/{gateway}/thing/sub/property/get|set` and
 * `…/thing/sub/service/invoke`, and the replies it reads back on `…_reply`.
 */
import { type ShadowError, ShadowErrors } from "./errors.js";
import { hasOwn, isObject, type JsonObject, type JsonValue } from "./json.js";
import { defaultLimits, type Limits } from "./limits.js";
import { err, ok, type Result } from "./result.js";
import { checkJsonValue, keyProblem } from "./validate.js";

/** Seed 003: the gateway has this long to answer. */
export const GATEWAY_CALL_TIMEOUT_MS = 5_000;
/** Seed 003: `version` when the caller gives none. */
export const DEFAULT_ONEJSON_VERSION = "1.0";

/** A message id: a string of 1 to 13 digits. */
export const isOneJsonId = (id: unknown): id is string =>
  typeof id === "string" && /^[0-9]{1,13}$/.test(id);

export interface SubDevice {
  readonly productID: string;
  readonly deviceName: string;
}

export type GatewayRequest =
  | { readonly kind: "property/get"; readonly identifiers: readonly string[] }
  | { readonly kind: "property/set"; readonly properties: JsonObject }
  | { readonly kind: "service/invoke"; readonly identifier: string; readonly input: JsonObject };

export interface OneJsonRequest {
  readonly id: string;
  readonly version: string;
  readonly params: JsonObject;
}

const checkIdentifier = (path: string, name: unknown, limits: Limits): ShadowError | undefined => {
  if (typeof name !== "string") return ShadowErrors.invalidParameter(path, "must be a string");
  const problem = keyProblem(name, limits.maxKeyLength);
  return problem === undefined ? undefined : ShadowErrors.invalidParameter(path, problem);
};

/**
 * Builds the OneJSON envelope for a sub-device call, enforcing the seed's rules: an id
 * of at most 13 digits and at most 50 properties per call.
 */
export const buildGatewayRequest = (
  id: string,
  subDevice: SubDevice,
  request: GatewayRequest,
  options: { readonly version?: string; readonly limits?: Limits } = {},
): Result<OneJsonRequest, ShadowError> => {
  const limits = options.limits ?? defaultLimits;
  if (!isOneJsonId(id))
    return err(ShadowErrors.invalidParameter("/id", "must be a string of 1 to 13 digits"));
  const target = { deviceName: subDevice.deviceName, productID: subDevice.productID };
  let params: JsonObject;
  switch (request.kind) {
    case "property/get": {
      const count = request.identifiers.length;
      if (count === 0)
        return err(ShadowErrors.invalidParameter("/params", "name at least one property"));
      if (count > limits.maxGatewayProperties)
        return err(ShadowErrors.tooManyProperties(count, limits.maxGatewayProperties));
      for (const [i, name] of request.identifiers.entries()) {
        const problem = checkIdentifier(`/params/${i}`, name, limits);
        if (problem !== undefined) return err(problem);
      }
      params = { ...target, params: [...request.identifiers] };
      break;
    }
    case "property/set": {
      if (!isObject(request.properties))
        return err(ShadowErrors.invalidParameter("/params", "must be an object"));
      const names = Object.keys(request.properties);
      if (names.length === 0)
        return err(ShadowErrors.invalidParameter("/params", "set at least one property"));
      if (names.length > limits.maxGatewayProperties)
        return err(ShadowErrors.tooManyProperties(names.length, limits.maxGatewayProperties));
      for (const name of names) {
        const problem =
          checkIdentifier(`/params/${name}`, name, limits) ??
          checkJsonValue(request.properties[name], limits, ["params", name]);
        if (problem !== undefined) return err(problem);
      }
      params = { ...target, params: request.properties };
      break;
    }
    case "service/invoke": {
      const problem =
        checkIdentifier("/identifier", request.identifier, limits) ??
        (isObject(request.input)
          ? checkJsonValue(request.input, limits, ["input"])
          : ShadowErrors.invalidParameter("/input", "must be an object"));
      if (problem !== undefined) return err(problem);
      params = { ...target, identifier: request.identifier, input: request.input };
      break;
    }
  }
  return ok({ id, version: options.version ?? DEFAULT_ONEJSON_VERSION, params });
};

/** A gateway's `…_reply`: `code` and `msg` are the gateway's own, passed through. */
export interface OneJsonReply {
  readonly id: string;
  readonly code: number;
  readonly msg?: string;
  readonly data?: JsonObject;
}

/** Reads a gateway's reply; refuses one without a valid `id` or an integer `code`. */
export const parseGatewayReply = (body: unknown): Result<OneJsonReply, ShadowError> => {
  if (!isObject(body)) return err(ShadowErrors.invalidJson("the reply must be a JSON object"));
  if (!isOneJsonId(body.id))
    return err(ShadowErrors.invalidParameter("/id", "must be a string of 1 to 13 digits"));
  if (typeof body.code !== "number" || !Number.isInteger(body.code))
    return err(ShadowErrors.invalidParameter("/code", "must be an integer"));
  if (hasOwn(body, "msg") && typeof body.msg !== "string")
    return err(ShadowErrors.invalidParameter("/msg", "must be a string"));
  if (hasOwn(body, "data") && !isObject(body.data))
    return err(ShadowErrors.invalidParameter("/data", "must be an object"));
  return ok({
    id: body.id,
    code: body.code,
    ...(typeof body.msg === "string" ? { msg: body.msg } : {}),
    ...(isObject(body.data) ? { data: body.data } : {}),
  });
};

/** Whether a gateway's `code` means success (OneJSON uses 200). */
export const isGatewaySuccess = (reply: OneJsonReply): boolean => reply.code === 200;

/** The reported values a successful `property/get` reply carries for the sub-device. */
export const reportedFromGetReply = (reply: OneJsonReply): JsonObject | undefined =>
  isGatewaySuccess(reply) && reply.data !== undefined && Object.keys(reply.data).length > 0
    ? (reply.data as { readonly [key: string]: JsonValue })
    : undefined;

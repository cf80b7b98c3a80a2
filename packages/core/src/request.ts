import { utf8Length } from "./encode.js";
import { type ShadowError, ShadowErrors } from "./errors.js";
import { hasOwn, isObject, type JsonObject } from "./json.js";
import { defaultLimits, type Limits } from "./limits.js";
import { err, ok, type Result } from "./result.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a request payload as JSON: size first (before any work), then UTF-8, then
 * syntax. Dialects map the errors to their codes (OneNET 161 / 160, AWS 413 / 415 / 400).
 */
export const parseJsonPayload = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Result<unknown, ShadowError> => {
  const size = typeof payload === "string" ? utf8Length(payload) : payload.byteLength;
  if (size > limits.maxPayloadBytes)
    return err(ShadowErrors.payloadTooLarge(size, limits.maxPayloadBytes));
  let text: string;
  if (typeof payload === "string") text = payload;
  else {
    try {
      text = utf8.decode(payload);
    } catch {
      return err(ShadowErrors.invalidEncoding());
    }
  }
  if (text.length === 0) return err(ShadowErrors.invalidJson("the payload is empty"));
  try {
    return ok(JSON.parse(text));
  } catch (e) {
    return err(ShadowErrors.invalidJson(e instanceof Error ? e.message : String(e)));
  }
};

/**
 * The `state` of an update request, before the engine validates its contents. Both
 * keys are always present (`undefined` when the request left the section out): one
 * object shape for every request keeps the engine's property access monomorphic,
 * which measured twice as fast as shapes that vary with the request.
 */
export interface StatePatch {
  readonly desired: JsonObject | null | undefined;
  readonly reported: JsonObject | null | undefined;
}

/**
 * Picks `state.desired` / `state.reported` out of a parsed update request
 * (`{"state":{"desired":{…},"reported":{…}}}`, seed 000). Other top-level fields
 * (`version`, `clientToken`) are the dialect's to read.
 */
export const readStatePatch = (body: unknown): Result<StatePatch, ShadowError> => {
  if (!isObject(body)) return err(ShadowErrors.invalidJson("the payload must be a JSON object"));
  if (!hasOwn(body, "state")) return err(ShadowErrors.stateMissing());
  const state = body.state;
  if (!isObject(state)) return err(ShadowErrors.invalidParameter("/state", "must be an object"));
  let desired: JsonObject | null | undefined;
  let reported: JsonObject | null | undefined;
  for (const key in state) {
    const value = state[key];
    if (key !== "desired" && key !== "reported")
      return err(ShadowErrors.invalidParameter(`/state/${key}`, "unknown node in state"));
    if (value !== null && !isObject(value))
      return err(ShadowErrors.invalidParameter(`/state/${key}`, "must be an object or null"));
    if (key === "desired") desired = value;
    else reported = value;
  }
  if (desired === undefined && reported === undefined)
    return err(ShadowErrors.desiredReportedMissing());
  return ok({ desired, reported });
};

/** `parseJsonPayload` then `readStatePatch`: an update payload straight off the wire. */
export const parseUpdatePayload = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Result<StatePatch, ShadowError> => {
  const body = parseJsonPayload(payload, limits);
  return body.ok ? readStatePatch(body.value) : body;
};

import { type ShadowError, ShadowErrors } from "./errors.js";
import { hasOwn, isObject, type JsonObject } from "./json.js";
import { defaultLimits, type Limits } from "./limits.js";
import { err, ok, type Result } from "./result.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes of a string once encoded as UTF-8. */
const utf8Length = (s: string): number => {
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
};

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

/** The `state` of an update request, before the engine validates its contents. */
export interface StatePatch {
  readonly desired?: JsonObject | null;
  readonly reported?: JsonObject | null;
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
  for (const key in state)
    if (key !== "desired" && key !== "reported")
      return err(ShadowErrors.invalidParameter(`/state/${key}`, "unknown node in state"));
  const hasDesired = hasOwn(state, "desired");
  const hasReported = hasOwn(state, "reported");
  if (!hasDesired && !hasReported) return err(ShadowErrors.desiredReportedMissing());
  const patch: { desired?: JsonObject | null; reported?: JsonObject | null } = {};
  if (hasDesired) {
    const desired = state.desired;
    if (desired !== null && !isObject(desired))
      return err(ShadowErrors.invalidParameter("/state/desired", "must be an object or null"));
    patch.desired = desired;
  }
  if (hasReported) {
    const reported = state.reported;
    if (reported !== null && !isObject(reported))
      return err(ShadowErrors.invalidParameter("/state/reported", "must be an object or null"));
    patch.reported = reported;
  }
  return ok(patch);
};

/** `parseJsonPayload` then `readStatePatch`: an update payload straight off the wire. */
export const parseUpdatePayload = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Result<StatePatch, ShadowError> => {
  const body = parseJsonPayload(payload, limits);
  return body.ok ? readStatePatch(body.value) : body;
};

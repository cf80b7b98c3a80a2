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
 * Which refusal a `state` with an unknown node gets when it holds neither `desired` nor
 * `reported`: seed 000 answers 164 ("desired or reported key not found") whatever else
 * the state holds, while AWS names the unknown node ("State contains an invalid node").
 * With a section present, an unknown node is refused either way.
 */
export type MissingSectionsRule = "sections-first" | "node-first";

/**
 * Picks `state.desired` / `state.reported` out of a parsed update request
 * (`{"state":{"desired":{…},"reported":{…}}}`, seed 000). Other top-level fields
 * (`version`, `clientToken`) are the dialect's to read.
 */
export const readStatePatch = (
  body: unknown,
  rule: MissingSectionsRule = "node-first",
): Result<StatePatch, ShadowError> => {
  if (!isObject(body)) return err(ShadowErrors.invalidJson("the payload must be a JSON object"));
  if (!hasOwn(body, "state")) return err(ShadowErrors.stateMissing());
  const state = body.state;
  if (!isObject(state)) return err(ShadowErrors.invalidParameter("/state", "must be an object"));
  let desired: JsonObject | null | undefined;
  let reported: JsonObject | null | undefined;
  let unknown: string | undefined;
  for (const key in state) {
    const value = state[key];
    if (key !== "desired" && key !== "reported") {
      if (rule === "node-first")
        return err(ShadowErrors.invalidParameter(`/state/${key}`, "unknown node in state"));
      unknown ??= key;
      continue;
    }
    if (value !== null && !isObject(value))
      return err(ShadowErrors.invalidParameter(`/state/${key}`, "must be an object or null"));
    if (key === "desired") desired = value;
    else reported = value;
  }
  if (desired === undefined && reported === undefined)
    return err(ShadowErrors.desiredReportedMissing());
  if (unknown !== undefined)
    return err(ShadowErrors.invalidParameter(`/state/${unknown}`, "unknown node in state"));
  return ok({ desired, reported });
};

/**
 * `parseJsonPayload` then `readStatePatch`: a OneNET `image/update` payload straight off
 * the wire, with seed 000's precedence (a state without either section is 164 first).
 */
export const parseUpdatePayload = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Result<StatePatch, ShadowError> => {
  const body = parseJsonPayload(payload, limits);
  return body.ok ? readStatePatch(body.value, "sections-first") : body;
};

import {
  COMPONENT_MARKER,
  defaultLimits,
  err,
  isObject,
  isTwinAck,
  type JsonObject,
  type JsonValue,
  jsonByteLength,
  type Limits,
  ok,
  parseJsonPayload,
  type Result,
  type ShadowError,
  ShadowErrors,
  type TwinAck,
  toPointer,
  type UpdateRequest,
  utf8Length,
} from "@umbra/core";
import type { CommandRefusal } from "../dialect.js";

/** IoT Hub's twin limits (DIALECTS.md §2.4), beside the engine's `Limits`. */
export interface AzureLimits {
  /** Largest reported patch, in bytes of JSON (IoT Hub: 32 KB per section). */
  readonly maxSectionBytes: number;
  /** Deepest nesting below reported (`{"a":1}` is 1; IoT Hub: 10). */
  readonly maxDepth: number;
  /** Longest member name, in UTF-8 bytes (IoT Hub: 1 KB). */
  readonly maxKeyBytes: number;
}

export const defaultAzureLimits: AzureLimits = {
  maxSectionBytes: 32 * 1024,
  maxDepth: 10,
  maxKeyBytes: 1024,
};

/**
 * A writable-property acknowledgement found in a reported patch (DIALECTS.md §2.3):
 * `{"value","ac","av","ad"}` at the root or in a component. `pointer` names the
 * property as the digital twin's acks are keyed (`/prop`, `/component/prop`).
 */
export interface AzureAck {
  readonly pointer: string;
  readonly code: number;
  /** `av`: the desired `$version` acknowledged; absent when the device left it out. */
  readonly version: number | undefined;
  readonly description: string | undefined;
}

/** A reported patch read and checked, ready for the engine. */
export interface AzureReportedPatch {
  /**
   * The patch as the device sent it (acks still wrapped): what the engine's
   * `applyTwinReported` takes, which unwraps and records the acks itself.
   */
  readonly patch: JsonObject;
  /**
   * The same patch as a plain device report on reported, each ack replaced by its
   * `value` (the digital twin shows the value, seed 004); `null` members delete.
   */
  readonly update: UpdateRequest;
  /** The acks found, in patch order. */
  readonly acks: readonly AzureAck[];
  /** Top-level members marked `"__t":"c"` (Plug and Play components), in patch order. */
  readonly components: readonly string[];
}

/**
 * A member name IoT Hub refuses (§2.4): control characters, `.`, `$` or a space. The
 * `$` rule keeps a device from writing the twin's own `$version` / `$metadata`.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const KEY_REFUSED = /[.$ \u0000-\u001f\u007f]/;

/**
 * The first limit `value` (at `depth`, under `path`) breaks, or `undefined`: member
 * names (length, characters) and nesting. `path` is left naming the culprit.
 */
const limitProblem = (
  value: JsonValue,
  depth: number,
  azure: AzureLimits,
  path: string[],
): ShadowError | undefined => {
  if (value === null || typeof value !== "object") return undefined;
  if (depth > azure.maxDepth) return ShadowErrors.depthExceeded(toPointer(path), azure.maxDepth);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      const problem = limitProblem(value[i] as JsonValue, depth + 1, azure, path);
      if (problem !== undefined) return problem;
      path.pop();
    }
    return undefined;
  }
  const object = value as JsonObject;
  for (const key in object) {
    path.push(key);
    if (key.length === 0) return ShadowErrors.invalidParameter(toPointer(path), "empty name");
    if (KEY_REFUSED.test(key))
      return ShadowErrors.invalidParameter(
        toPointer(path),
        "names must not contain '.', '$', spaces or control characters",
      );
    if (utf8Length(key) > azure.maxKeyBytes)
      return ShadowErrors.invalidParameter(
        toPointer(path),
        `names must be at most ${azure.maxKeyBytes} bytes`,
      );
    const problem = limitProblem(object[key] as JsonValue, depth + 1, azure, path);
    if (problem !== undefined) return problem;
    path.pop();
  }
  return undefined;
};

const ackOf = (pointer: string, wrapper: JsonObject): AzureAck => ({
  pointer,
  code: wrapper.ac as number,
  version: typeof wrapper.av === "number" ? wrapper.av : undefined,
  description: typeof wrapper.ad === "string" ? wrapper.ad : undefined,
});

const isComponentValue = (value: JsonValue | undefined): value is JsonObject =>
  isObject(value) && value[COMPONENT_MARKER] === "c";

const refuse = (error: ShadowError) => err<CommandRefusal>({ error });

/**
 * Reads a reported patch (`$iothub/twin/PATCH/properties/reported/?$rid=…`, DIALECTS.md
 * §2.2–§2.4): a JSON object merged into reported, `null` members deleted. Refused (the
 * device is answered 400 with an `errorCode` body, see `azureErrorAnswer`): an empty
 * or non-JSON payload, anything but an object, a member name with `.`, `$`, a space or
 * a control character or over `maxKeyBytes`, nesting past `maxDepth`, a patch over
 * `maxSectionBytes`. Acks `{"value","ac","av","ad"}` at the root or in a component
 * (`"__t":"c"`) are collected and unwrapped in `update`.
 */
export const readAzureReportedPatch = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
  azure: AzureLimits = defaultAzureLimits,
): Result<AzureReportedPatch, CommandRefusal> => {
  const parsed = parseJsonPayload(payload, limits);
  if (!parsed.ok) return refuse(parsed.error);
  const patch = parsed.value;
  if (!isObject(patch))
    return refuse(ShadowErrors.invalidJson("the reported patch must be a JSON object"));
  const problem = limitProblem(patch, 1, azure, []);
  if (problem !== undefined) return refuse(problem);
  // The patch is the payload: one within the bound needs no count.
  const size = typeof payload === "string" ? utf8Length(payload) : payload.byteLength;
  if (size > azure.maxSectionBytes) {
    const bytes = jsonByteLength(patch);
    if (bytes > azure.maxSectionBytes)
      return refuse(ShadowErrors.documentTooLarge(bytes, azure.maxSectionBytes));
  }
  const acks: AzureAck[] = [];
  const components: string[] = [];
  let reported: JsonObject = patch;
  for (const key in patch) {
    const value = patch[key] as JsonValue;
    if (isTwinAck(value)) acks.push(ackOf(toPointer([key]), value));
    else if (isComponentValue(value)) {
      components.push(key);
      for (const p in value) {
        const v = value[p] as JsonValue;
        if (isTwinAck(v)) acks.push(ackOf(toPointer([key, p]), v));
      }
    }
  }
  if (acks.length > 0) reported = unwrapAcks(patch);
  const update: UpdateRequest = { desired: undefined, reported, source: "device" };
  return ok({ patch, update, acks, components });
};

/** The patch with every ack (root or component level) replaced by its `value`. */
const unwrapAcks = (patch: JsonObject): JsonObject => {
  const out: Record<string, JsonValue> = {};
  for (const key in patch) {
    const value = patch[key] as JsonValue;
    let next: JsonValue = value;
    if (isTwinAck(value)) next = value.value as JsonValue;
    else if (isComponentValue(value)) {
      const component: Record<string, JsonValue> = {};
      for (const p in value) {
        const v = value[p] as JsonValue;
        component[p] = isTwinAck(v) ? (v.value as JsonValue) : v;
      }
      next = component;
    }
    Object.defineProperty(out, key, { value: next, enumerable: true, writable: true });
  }
  return out;
};

/**
 * An ack as the engine stores it for the digital twin (`metadata.twin.acks[pointer]`),
 * which seed 004's `$metadata.{prop}` shows as ackCode / ackVersion / ackDescription.
 * `desiredVersion` stands in for a missing `av` (Azure's own SDK samples always send
 * one; a device-set value sends `av` 0 with `ac` 203).
 */
export const twinAckOf = (ack: AzureAck, nowMs: number, desiredVersion: number): TwinAck =>
  ack.description === undefined
    ? { code: ack.code, version: ack.version ?? desiredVersion, timestamp: nowMs }
    : {
        code: ack.code,
        version: ack.version ?? desiredVersion,
        description: ack.description,
        timestamp: nowMs,
      };

/** The `$metadata` members seed 004 shows for an acknowledged property. */
export const ackMetadataOf = (
  ack: TwinAck,
): { ackCode: number; ackVersion: number; ackDescription?: string } =>
  ack.description === undefined
    ? { ackCode: ack.code, ackVersion: ack.version }
    : { ackCode: ack.code, ackVersion: ack.version, ackDescription: ack.description };

/** A device's answer to a direct method, as the API's function call takes it. */
export interface AzureMethodResult {
  /** Status < 300 completes the call; anything else fails it (issue 17). */
  readonly outcome: "completed" | "failed";
  readonly status: number;
  /** The body: JSON, or `null` when empty. */
  readonly result: JsonValue;
}

/**
 * Reads `$iothub/methods/res/{status}/?$rid=…`'s body (the Node SDK sends
 * `JSON.stringify(payload)`, so `null` for no payload). An empty body is `null`; a body
 * that is no JSON, or over the engine's payload bound, is refused (the call then waits
 * for its deadline: IoT Hub has no answer to a method result).
 */
export const readAzureMethodResponse = (
  status: number,
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Result<AzureMethodResult, ShadowError> => {
  const size = typeof payload === "string" ? utf8Length(payload) : payload.byteLength;
  const outcome = status < 300 ? "completed" : "failed";
  if (size === 0) return ok({ outcome, status, result: null });
  const parsed = parseJsonPayload(payload, limits);
  if (!parsed.ok) return parsed;
  return ok({ outcome, status, result: parsed.value as JsonValue });
};

import { FUNCTION_KEY, FUNCTION_RESULT_KEY, type Source } from "./document.js";
import { type ShadowError, ShadowErrors } from "./errors.js";
import { hasOwn, isObject, type JsonObject, type JsonValue } from "./json.js";
import type { Limits } from "./limits.js";

/** Why a property name is refused, or `undefined` when it is fine. */
export const keyProblem = (key: string, maxKeyLength: number): string | undefined => {
  if (key.length === 0) return "empty property name";
  if (key.length > maxKeyLength) return `property name longer than ${maxKeyLength} characters`;
  if (key.charCodeAt(0) === 0x24) return 'property names may not start with "$"';
  if (key === "__proto__") return "reserved property name";
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return "control character in property name";
  }
  return undefined;
};

/** JSON Pointer (RFC 6901) of a path. */
export const toPointer = (path: readonly string[]): string => {
  let out = "";
  for (const segment of path) out += `/${segment.replaceAll("~", "~0").replaceAll("/", "~1")}`;
  return out;
};

/**
 * Walks one section of a request (`desired` or `reported`): property names, value
 * types, nesting depth. `path` is a scratch stack used only to name the culprit.
 */
const checkTree = (
  object: JsonObject,
  depth: number,
  limits: Limits,
  deletesAllowed: boolean,
  path: string[],
): ShadowError | undefined => {
  if (depth > limits.maxDepth) return ShadowErrors.depthExceeded(toPointer(path), limits.maxDepth);
  for (const key in object) {
    const problem = keyProblem(key, limits.maxKeyLength);
    if (problem !== undefined) {
      path.push(key);
      return ShadowErrors.invalidParameter(toPointer(path), problem);
    }
    const value = object[key];
    if (value === null && deletesAllowed) continue;
    path.push(key);
    const error = checkValue(value, depth, limits, deletesAllowed, path);
    if (error !== undefined) return error;
    path.pop();
  }
  return undefined;
};

const checkValue = (
  value: unknown,
  depth: number,
  limits: Limits,
  deletesAllowed: boolean,
  path: string[],
): ShadowError | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value)
        ? undefined
        : ShadowErrors.invalidParameter(toPointer(path), "numbers must be finite");
    case "object":
      if (value === null) return undefined; // a null inside an array is a value
      if (Array.isArray(value)) {
        if (depth + 1 > limits.maxDepth)
          return ShadowErrors.depthExceeded(toPointer(path), limits.maxDepth);
        for (let i = 0; i < value.length; i++) {
          path.push(String(i));
          const error = checkValue(value[i], depth + 1, limits, false, path);
          if (error !== undefined) return error;
          path.pop();
        }
        return undefined;
      }
      return checkTree(value as JsonObject, depth + 1, limits, deletesAllowed, path);
    default:
      return ShadowErrors.invalidParameter(toPointer(path), `${typeof value} is not a JSON value`);
  }
};

/**
 * Validates a property tree a caller wants to write. `null` leaves mean "delete" when
 * `deletesAllowed`. Depth counts from 1 for the properties directly inside `object`.
 */
export const checkPropertyTree = (
  object: JsonObject,
  limits: Limits,
  deletesAllowed: boolean,
  base?: string,
): ShadowError | undefined =>
  checkTree(object, 1, limits, deletesAllowed, base === undefined ? [] : [base]);

/** Validates a plain JSON value (function params, twin values) at a nesting budget. */
export const checkJsonValue = (
  value: unknown,
  limits: Limits,
  basePath: readonly string[] = [],
): ShadowError | undefined => checkValue(value, 0, limits, false, [...basePath]);

/**
 * The engine-managed keys: `desired._function` is written only by the function-call
 * API; `reported._function_result` only by the device, in the seed's shape.
 */
export const checkReservedKeys = (
  section: "desired" | "reported",
  patch: JsonObject,
  source: Source,
): ShadowError | undefined => {
  if (section === "desired") {
    if (hasOwn(patch, FUNCTION_KEY))
      return ShadowErrors.invalidParameter(
        `/desired/${FUNCTION_KEY}`,
        "function calls are made through the function-call API, not written directly",
      );
    return undefined;
  }
  if (!hasOwn(patch, FUNCTION_RESULT_KEY)) return undefined;
  const pointer = `/reported/${FUNCTION_RESULT_KEY}`;
  if (source !== "device")
    return ShadowErrors.invalidParameter(pointer, "only the device reports function results");
  const result = patch[FUNCTION_RESULT_KEY] as JsonValue;
  if (result === null) return undefined;
  if (!isObject(result)) return ShadowErrors.invalidParameter(pointer, "must be an object");
  if (typeof result.requestId !== "string" || result.requestId.length === 0)
    return ShadowErrors.invalidParameter(`${pointer}/requestId`, "must be a non-empty string");
  if (result.status !== "completed" && result.status !== "failed")
    return ShadowErrors.invalidParameter(`${pointer}/status`, 'must be "completed" or "failed"');
  return undefined;
};

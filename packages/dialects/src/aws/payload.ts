import {
  defaultLimits,
  err,
  isObject,
  type JsonObject,
  type JsonValue,
  jsonByteLength,
  type Limits,
  ok,
  parseJsonPayload,
  type Result,
  readStatePatch,
  type ShadowError,
  ShadowErrors,
  toPointer,
  type UpdateRequest,
  utf8Length,
} from "@umbra/core";
import { salvageMember } from "../salvage.js";
import type { AwsShadowOp } from "./topics.js";

/** AWS's own bounds on a shadow request (DIALECTS.md §1.4), beside the engine's `Limits`. */
export interface AwsLimits {
  /** Largest desired + reported a request may carry, in bytes of JSON (AWS: 8 KB). */
  readonly maxStateBytes: number;
  /** Deepest nesting below desired / reported (`{"a":1}` is 1; AWS: 6). */
  readonly maxDepth: number;
}

export const defaultAwsLimits: AwsLimits = { maxStateBytes: 8 * 1024, maxDepth: 6 };

/** Longest clientToken, in UTF-8 bytes. */
export const MAX_CLIENT_TOKEN_BYTES = 64;

/** A request read from `P/update|get|delete`, with the token its answers echo. */
export type AwsRequest =
  | { readonly op: "get" | "delete"; readonly clientToken: string | undefined }
  | {
      readonly op: "update";
      readonly update: UpdateRequest;
      readonly clientToken: string | undefined;
    };

/**
 * A refused request: the engine error (whose AWS code and message `awsError` gives) and
 * the clientToken when it was read before the refusal, so the rejection echoes it.
 */
export interface AwsRefusal {
  readonly error: ShadowError;
  readonly clientToken: string | undefined;
}

const refuse = (error: ShadowError, clientToken?: string) =>
  err<AwsRefusal>({ error, clientToken });

/** The clientToken of a refused payload that is JSON all the same (see `salvageMember`). */
const salvageToken = (payload: Uint8Array | string): string | undefined => {
  const token = salvageMember(payload, "clientToken");
  return typeof token === "string" && utf8Length(token) <= MAX_CLIENT_TOKEN_BYTES
    ? token
    : undefined;
};

/** The path `awsError` reads as "Invalid clientToken". */
export const CLIENT_TOKEN_PATH = "/clientToken";

/**
 * Whether `value`, at `depth`, nests deeper than `max` (counted as the engine counts);
 * `path` is left naming the culprit.
 */
const tooDeep = (value: JsonValue, depth: number, max: number, path: string[]): boolean => {
  if (value === null || typeof value !== "object") return false;
  if (depth > max) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      if (tooDeep(value[i] as JsonValue, depth + 1, max, path)) return true;
      path.pop();
    }
    return false;
  }
  const object = value as JsonObject;
  for (const key in object) {
    path.push(key);
    if (tooDeep(object[key] as JsonValue, depth + 1, max, path)) return true;
    path.pop();
  }
  return false;
};

const depthError = (
  name: "desired" | "reported",
  section: JsonObject | null | undefined,
  max: number,
): ShadowError | undefined => {
  if (section === null || section === undefined) return undefined;
  const path = [name];
  return tooDeep(section, 1, max, path)
    ? ShadowErrors.depthExceeded(toPointer(path), max)
    : undefined;
};

const sectionBytes = (section: JsonObject | null | undefined): number =>
  section === null || section === undefined ? 0 : jsonByteLength(section);

/**
 * Reads a payload a device published to `P/{op}` (DIALECTS.md §1.2–§1.4). `get` and
 * `delete` take an empty payload or a JSON object whose `clientToken` is kept and
 * whose `version` is ignored (v1 sends one). `update` needs `state` with `desired`
 * and/or `reported` (objects, or `null` to clear); `version` is the version the
 * shadow must be at (409 from the engine otherwise). Top-level members other than
 * `state`, `version`, `clientToken` are ignored (the v2 pub/sub client sends
 * `thingName`). The clientToken is read first, so every later refusal echoes it.
 */
export const readAwsRequest = (
  op: AwsShadowOp,
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
  aws: AwsLimits = defaultAwsLimits,
): Result<AwsRequest, AwsRefusal> => {
  const size = typeof payload === "string" ? utf8Length(payload) : payload.byteLength;
  if (size === 0 && op !== "update") return ok({ op, clientToken: undefined });
  const parsed = parseJsonPayload(payload, limits);
  if (!parsed.ok) return refuse(parsed.error, salvageToken(payload));
  const body = parsed.value;
  if (!isObject(body)) return refuse(ShadowErrors.invalidJson("the payload must be a JSON object"));
  const token = body.clientToken;
  if (
    token !== undefined &&
    (typeof token !== "string" || utf8Length(token) > MAX_CLIENT_TOKEN_BYTES)
  )
    return refuse(
      ShadowErrors.invalidParameter(
        CLIENT_TOKEN_PATH,
        `must be a string of at most ${MAX_CLIENT_TOKEN_BYTES} bytes`,
      ),
    );
  const clientToken = token as string | undefined;
  if (op !== "update") return ok({ op, clientToken });
  const patch = readStatePatch(body);
  if (!patch.ok) return refuse(patch.error, clientToken);
  const { desired, reported } = patch.value;
  const version = body.version;
  if (version !== undefined && typeof version !== "number")
    return refuse(ShadowErrors.invalidVersion("the version must be a number"), clientToken);
  const deep =
    depthError("desired", desired, aws.maxDepth) ?? depthError("reported", reported, aws.maxDepth);
  if (deep !== undefined) return refuse(deep, clientToken);
  // The state is part of the payload: a payload within the bound needs no count.
  if (size > aws.maxStateBytes) {
    const bytes = sectionBytes(desired) + sectionBytes(reported);
    if (bytes > aws.maxStateBytes)
      return refuse(ShadowErrors.documentTooLarge(bytes, aws.maxStateBytes), clientToken);
  }
  // One literal shape for every update: the engine's hot path depends on it.
  const update: UpdateRequest =
    version === undefined
      ? { desired, reported, source: "device" }
      : { desired, reported, source: "device", version: { kind: "expected", version } };
  return ok({ op: "update", update, clientToken });
};

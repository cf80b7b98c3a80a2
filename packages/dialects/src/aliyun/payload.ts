import {
  type AliyunErrorCode,
  aliyunErrorCode,
  defaultLimits,
  err,
  isEmptyObject,
  isObject,
  type JsonObject,
  type JsonValue,
  type Limits,
  ok,
  parseJsonPayload,
  type Result,
  type UpdateRequest,
} from "@umbra/core";

/**
 * A request read from `/shadow/update/{pk}/{dn}` (DIALECTS.md §3.2), ready for the
 * engine: `get` reads the document; `update` and `delete` are both an `applyUpdate`
 * with Alibaba's version rule (strictly newer, `-1` resets; judged by the engine).
 */
export type AliyunRequest =
  | { readonly method: "get" }
  | { readonly method: "update" | "delete"; readonly update: UpdateRequest };

/** A refused request: the code for the error reply and a detail for the log. */
export interface AliyunRefusal {
  readonly code: AliyunErrorCode;
  readonly detail: string;
}

const refuse = (code: AliyunErrorCode, detail: string) => err<AliyunRefusal>({ code, detail });

/** Alibaba's deletion marker is the JSON string "null", not JSON null. */
const NULL = "null";

/**
 * In a `delete`, every leaf names a property to remove and must be `"null"`;
 * objects nest. Returns the engine's patch (JSON `null` leaves) or `undefined`.
 */
const deletionPatch = (section: JsonObject): JsonObject | undefined => {
  const out: Record<string, JsonValue> = {};
  for (const key in section) {
    const value = section[key];
    if (value === NULL) out[key] = null;
    else if (isObject(value)) {
      const inner = deletionPatch(value);
      if (inner === undefined) return undefined;
      out[key] = inner;
    } else return undefined;
  }
  return out;
};

/** A `state.desired` / `state.reported` section: `"null"` clears it, else an object. */
const readSection = (
  method: "update" | "delete",
  name: string,
  value: JsonValue | undefined,
): Result<JsonObject | null | undefined, AliyunRefusal> => {
  if (value === undefined) return ok(undefined);
  if (value === NULL) return ok(null);
  if (!isObject(value)) return refuse(400, `state.${name} must be an object or "null"`);
  if (method === "update") return ok(value);
  const patch = deletionPatch(value);
  return patch === undefined
    ? refuse(400, `every property to delete in state.${name} must be "null"`)
    : ok(patch);
};

/**
 * Reads a payload published to `/shadow/update/{pk}/{dn}`. Checks, in the table's
 * order: empty 407, JSON 400 (size and UTF-8 too), method 401/406, state 402,
 * version 403, sections 404/405. Array values pass whole (the engine replaces them).
 */
export const readAliyunRequest = (
  payload: Uint8Array | string,
  limits: Limits = defaultLimits,
): Result<AliyunRequest, AliyunRefusal> => {
  const size = typeof payload === "string" ? payload.length : payload.byteLength;
  if (size === 0) return refuse(407, "the payload is empty");
  const parsed = parseJsonPayload(payload, limits);
  if (!parsed.ok) return refuse(aliyunErrorCode(parsed.error), parsed.error._tag);
  const body = parsed.value;
  if (!isObject(body)) return refuse(400, "the payload must be a JSON object");
  const method = body.method;
  if (method === undefined) return refuse(401, "method is missing");
  if (method === "get") return ok({ method: "get" });
  if (method !== "update" && method !== "delete")
    return refuse(406, "method must be update, get or delete");
  const state = body.state;
  if (state === undefined) return refuse(402, "state is missing");
  if (!isObject(state)) return refuse(400, "state must be an object");
  for (const key in state)
    if (key !== "desired" && key !== "reported")
      return refuse(400, `state.${key} is not desired or reported`);
  const version = body.version;
  if (version !== undefined && typeof version !== "number")
    return refuse(403, "version must be a number");
  const desired = readSection(method, "desired", state.desired);
  if (!desired.ok) return desired;
  const reported = readSection(method, "reported", state.reported);
  if (!reported.ok) return reported;
  if (desired.value === undefined && reported.value === undefined)
    return refuse(404, "state has neither reported nor desired");
  const r = reported.value;
  if (desired.value === undefined && r !== null && r !== undefined && isEmptyObject(r))
    return refuse(405, "state.reported is empty");
  return ok({
    method,
    update: {
      desired: desired.value,
      reported: reported.value,
      source: "device",
      version: version === undefined ? { kind: "none" } : { kind: "newer", version },
    },
  });
};

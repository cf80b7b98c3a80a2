import { makeRequestId } from "./calls.js";
import { FUNCTION_RESULT_KEY, type FunctionCall, type ShadowDocument } from "./document.js";
import { jsonByteLength } from "./encode.js";
import { type ShadowError, ShadowErrors } from "./errors.js";
import { hasOwn, isObject, type JsonObject } from "./json.js";
import { defaultLimits } from "./limits.js";
import { err, ok, type Result } from "./result.js";
import {
  draftOf,
  finishWrite,
  mergeState,
  stampOf,
  type WriteContext,
  type WriteResult,
} from "./update.js";
import { checkPropertyTree, keyProblem } from "./validate.js";
import { nextVersion } from "./version.js";

/** A call not answered within this long turns into `timeout`. */
export const DEFAULT_FUNCTION_TIMEOUT_MS = 60 * 60 * 1000;
/** Finished calls stay visible this long before they are cleaned up. */
export const DEFAULT_FUNCTION_RETENTION_MS = 60 * 60 * 1000;
/** Longest timeout a caller may ask for: a week of offline caching. */
export const MAX_FUNCTION_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;

export interface FunctionCallRequest {
  readonly funcKey: string;
  readonly params?: JsonObject;
  /** ms until a pending call turns into `timeout`; `DEFAULT_FUNCTION_TIMEOUT_MS` if absent. */
  readonly timeoutMs?: number;
  /** ms a finished call stays before it is cleaned up; kept with the call. */
  readonly retentionMs?: number;
}

export interface QueueContext extends WriteContext {
  /** Whether the device is connected now (recorded as `isOnline`). */
  readonly online: boolean;
}

/**
 * Queues a function call (seed 001): appended to the document's calls and shown in
 * `desired._function` once every older call has finished, so it reaches the device
 * in order — now if it is online, on its next connection if not.
 */
export const queueFunctionCall = (
  doc: ShadowDocument,
  request: FunctionCallRequest,
  ctx: QueueContext,
): Result<{ readonly write: WriteResult; readonly call: FunctionCall }, ShadowError> => {
  const limits = ctx.limits ?? defaultLimits;
  const funcKeyProblem =
    typeof request.funcKey === "string"
      ? keyProblem(request.funcKey, limits.maxKeyLength)
      : "must be a string";
  if (funcKeyProblem !== undefined)
    return err(ShadowErrors.invalidParameter("/funcKey", funcKeyProblem));
  const params = request.params ?? {};
  if (typeof params !== "object" || params === null || Array.isArray(params))
    return err(ShadowErrors.invalidParameter("/params", "must be an object"));
  const paramsProblem = checkPropertyTree(params, limits, false, "params");
  if (paramsProblem !== undefined) return err(paramsProblem);
  const paramsBytes = jsonByteLength(params);
  if (paramsBytes > limits.maxPayloadBytes)
    return err(ShadowErrors.payloadTooLarge(paramsBytes, limits.maxPayloadBytes));
  const timeout = request.timeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeout) || timeout <= 0 || timeout > MAX_FUNCTION_TIMEOUT_MS)
    return err(
      ShadowErrors.invalidParameter(
        "/timeoutMs",
        `must be a whole number of ms between 1 and ${MAX_FUNCTION_TIMEOUT_MS}`,
      ),
    );
  const retention = request.retentionMs;
  if (
    retention !== undefined &&
    (!Number.isSafeInteger(retention) || retention < 0 || retention > MAX_FUNCTION_TIMEOUT_MS)
  )
    return err(
      ShadowErrors.invalidParameter(
        "/retentionMs",
        `must be a whole number of ms between 0 and ${MAX_FUNCTION_TIMEOUT_MS}`,
      ),
    );
  const calls = doc.functions ?? [];
  const pending = calls.filter((c) => c.status === "pending").length;
  if (pending >= limits.maxPendingCalls)
    return err(ShadowErrors.queueFull(pending, limits.maxPendingCalls));
  let stampMs = ctx.now;
  let requestId = makeRequestId(doc.productKey, doc.deviceKey, request.funcKey, stampMs);
  // Two calls of one function in the same millisecond: keep the seed's form, move the clock on.
  while (calls.some((c) => c.requestId === requestId))
    requestId = makeRequestId(doc.productKey, doc.deviceKey, request.funcKey, ++stampMs);
  const call: FunctionCall = {
    requestId,
    funcKey: request.funcKey,
    params,
    timestamp: ctx.now,
    status: "pending",
    queuedAt: ctx.now,
    isOnline: ctx.online,
    deadline: ctx.now + timeout,
    ...(retention === undefined ? {} : { retentionMs: retention }),
  };
  const version = nextVersion(doc.version, undefined);
  if (!version.ok) return version;
  const draft = draftOf(doc, version.value);
  draft.functions = [...keepRecentFinished(calls, limits.maxPendingCalls), call];
  const write = finishWrite(doc, draft, ctx, {}, true);
  return write.ok ? ok({ write: write.value, call }) : write;
};

/** The calls with at most `keep` finished ones, the oldest finished dropped first. */
const keepRecentFinished = (
  calls: readonly FunctionCall[],
  keep: number,
): readonly FunctionCall[] => {
  let excess = calls.filter((c) => c.status !== "pending").length - keep;
  if (excess <= 0) return calls;
  return calls.filter((c) => c.status === "pending" || excess-- <= 0);
};

export interface ExpireContext extends WriteContext {
  readonly retentionMs?: number;
}

/**
 * Turns pending calls past their deadline into `timeout` and removes finished calls
 * older than the retention period (with the `_function_result` that answered them).
 * Returns `undefined` when there is nothing to do, so no write happens.
 */
export const expireFunctionCalls = (
  doc: ShadowDocument,
  ctx: ExpireContext,
): Result<WriteResult | undefined, ShadowError> => {
  const calls = doc.functions;
  if (calls === undefined || calls.length === 0) return ok(undefined);
  const retention = ctx.retentionMs ?? DEFAULT_FUNCTION_RETENTION_MS;
  const now = ctx.now;
  let changed = false;
  const kept: FunctionCall[] = [];
  const dropped = new Set<string>();
  for (const call of calls) {
    if (call.status === "pending") {
      if (call.deadline <= now) {
        kept.push({ ...call, status: "timeout", finishedAt: now });
        changed = true;
      } else kept.push(call);
    } else if ((call.finishedAt ?? call.queuedAt) + (call.retentionMs ?? retention) <= now) {
      dropped.add(call.requestId);
      changed = true;
    } else kept.push(call);
  }
  if (!changed) return ok(undefined);
  const version = nextVersion(doc.version, undefined);
  if (!version.ok) return version;
  const draft = draftOf(doc, version.value);
  if (kept.length > 0) draft.functions = kept;
  else delete draft.functions;
  const answer = hasOwn(doc.reported, FUNCTION_RESULT_KEY)
    ? doc.reported[FUNCTION_RESULT_KEY]
    : undefined;
  let applied: WriteResult["applied"] = {};
  if (isObject(answer) && dropped.has(answer.requestId as string)) {
    const clear = { [FUNCTION_RESULT_KEY]: null };
    const stamp = stampOf(now, draft.version, "cloud");
    const [reported, metaReported] = mergeState(doc.reported, doc.metadata.reported, clear, stamp);
    draft.reported = reported;
    draft.metadata = { ...doc.metadata, reported: metaReported };
    applied = { reported: clear };
  }
  return finishWrite(doc, draft, ctx, applied, false);
};

/** When `expireFunctionCalls` will next have something to do, ms; `undefined` if never. */
export const nextFunctionExpiry = (
  doc: ShadowDocument,
  retentionMs: number = DEFAULT_FUNCTION_RETENTION_MS,
): number | undefined => {
  let next: number | undefined;
  for (const call of doc.functions ?? []) {
    const at =
      call.status === "pending"
        ? call.deadline
        : (call.finishedAt ?? call.queuedAt) + (call.retentionMs ?? retentionMs);
    if (next === undefined || at < next) next = at;
  }
  return next;
};

/**
 * The document with `expireFunctionCalls` done as part of the write that follows, not
 * as a write of its own: the version stays, the next write takes it one on. The same
 * document when nothing is due.
 */
export const expireBeforeWrite = (doc: ShadowDocument, ctx: ExpireContext): ShadowDocument => {
  const expired = expireFunctionCalls(doc, ctx);
  if (!expired.ok || expired.value === undefined) return doc;
  return { ...expired.value.doc, version: doc.version };
};

export const getFunctionCall = (doc: ShadowDocument, requestId: string): FunctionCall | undefined =>
  doc.functions?.find((c) => c.requestId === requestId);

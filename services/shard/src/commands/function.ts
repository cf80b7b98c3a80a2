import type { FunctionCommand } from "@umbra/bus";
import {
  expireFunctionCalls,
  getFunctionCall,
  isObject,
  type JsonObject,
  parseJsonPayload,
  queueFunctionCall,
  type ShadowDocument,
  ShadowErrors,
  type WriteResult,
} from "@umbra/core";
import {
  base,
  type CommandContext,
  type CommandHandler,
  type CommandOutcome,
  live,
} from "./context.js";
import { read, refusal, written } from "./outcomes.js";

/** Reads a `function` command's payload; a string is the problem with it. */
const readFunctionCommand = (value: unknown): FunctionCommand | string => {
  if (!isObject(value)) return "must be an object";
  if (isObject(value.queue)) {
    const q = value.queue;
    if (q.online !== undefined && typeof q.online !== "boolean") return "online must be a boolean";
    for (const name of ["timeoutMs", "retentionMs"] as const)
      if (q[name] !== undefined && typeof q[name] !== "number") return `${name} must be a number`;
    if (q.params !== undefined && !isObject(q.params)) return "params must be an object";
    return {
      queue: {
        funcKey: q.funcKey as string,
        ...(q.params === undefined ? {} : { params: q.params as JsonObject }),
        ...(q.timeoutMs === undefined ? {} : { timeoutMs: q.timeoutMs as number }),
        ...(q.retentionMs === undefined ? {} : { retentionMs: q.retentionMs as number }),
        ...(q.online === undefined ? {} : { online: q.online as boolean }),
      },
    };
  }
  if (isObject(value.check)) {
    const id = value.check.requestId;
    if (id !== undefined && typeof id !== "string") return "requestId must be a string";
    return { check: id === undefined ? {} : { requestId: id } };
  }
  return "must hold 'queue' or 'check'";
};

/**
 * `function` (seed 001): queue a call (a write, whose delta carries `desired._function`
 * to the device when the call is at the head of the queue), or check deadlines and
 * retention (a write only when a call timed out or was cleaned up; otherwise a read).
 */
export const runFunction: CommandHandler = (ctx) => {
  const { now, limits } = ctx;
  const body = parseJsonPayload(ctx.payload, limits);
  if (!body.ok) return refusal(ctx, body.error);
  const command = readFunctionCommand(body.value);
  if (typeof command === "string") return refusal(ctx, ShadowErrors.invalidParameter("/", command));
  if ("queue" in command) {
    const { online, ...request } = command.queue;
    const queued = queueFunctionCall(base(ctx), request, { now, limits, online: online === true });
    if (!queued.ok) return refusal(ctx, queued.error);
    return changedCalls(ctx, queued.value.write);
  }
  const current = live(ctx.doc);
  const requestId = command.check.requestId;
  const missing = (d: ShadowDocument | undefined): boolean =>
    requestId !== undefined && (d === undefined || getFunctionCall(d, requestId) === undefined);
  if (current === undefined || missing(current))
    return refusal(
      ctx,
      requestId === undefined
        ? ShadowErrors.shadowNotFound()
        : ShadowErrors.functionNotFound(requestId),
    );
  const expired = expireFunctionCalls(current, { now, limits });
  if (!expired.ok) return refusal(ctx, expired.error);
  // A write: the device hears of the call now at the head of the queue. A call cleaned
  // up by it is absent from the document the caller gets.
  if (expired.value !== undefined) return changedCalls(ctx, expired.value);
  return read(ctx, current);
};

/**
 * A `function` command's write. It sends the device a delta only when it changed
 * desired (the call at the head of the queue): queuing behind a pending call, or
 * cleaning up a finished one, tells the device nothing new, so it hears of each call
 * once rather than on every write of the queue.
 */
const changedCalls = (ctx: CommandContext, result: WriteResult): CommandOutcome => {
  const outcome = written(ctx, result);
  const event = outcome.event;
  const before = ctx.doc;
  if (before === undefined || result.doc.desired !== before.desired || event.kind !== "accepted")
    return outcome;
  return { ...outcome, event: { ...event, delta: undefined, deltaMetadata: undefined } };
};

import type { FunctionCall, FunctionStatus } from "./document.js";
import { hasOwn, type JsonObject, type JsonValue } from "./json.js";

/** The seed's request id form: `{productKey}_{deviceKey}_{funcKey}_{ms}`. */
export const makeRequestId = (
  productKey: string,
  deviceKey: string,
  funcKey: string,
  ms: number,
): string => `${productKey}_${deviceKey}_${funcKey}_${ms}`;

/** `desired._function` as seed 001 shows it. */
export interface FunctionProjection extends JsonObject {
  readonly requestId: string;
  readonly funcKey: string;
  readonly params: JsonObject;
  readonly timestamp: number;
  readonly status: FunctionStatus;
  readonly queuedAt: number;
  readonly isOnline: boolean;
}

const project = (call: FunctionCall): FunctionProjection => ({
  requestId: call.requestId,
  funcKey: call.funcKey,
  params: call.params,
  timestamp: call.timestamp,
  status: call.status,
  queuedAt: call.queuedAt,
  isOnline: call.isOnline,
});

/**
 * The call `desired._function` shows: the oldest pending one (calls reach the device
 * one at a time, in order), or else the most recently finished one until it is
 * cleaned up, so its final status stays readable.
 */
export const projectCurrentCall = (
  calls: readonly FunctionCall[],
): FunctionProjection | undefined => {
  for (const call of calls) if (call.status === "pending") return project(call);
  const last = calls[calls.length - 1];
  return last === undefined ? undefined : project(last);
};

/** Moves the pending call a `reported._function_result` answers to completed / failed. */
export const settleFunctionResult = (
  calls: readonly FunctionCall[],
  answer: JsonObject,
  now: number,
): readonly FunctionCall[] => {
  const index = calls.findIndex((c) => c.requestId === answer.requestId && c.status === "pending");
  if (index < 0) return calls; // unknown, already finished or timed out: nothing to settle
  const call = calls[index] as FunctionCall;
  const settled: FunctionCall = {
    ...call,
    status: answer.status === "failed" ? "failed" : "completed",
    finishedAt: now,
    ...(hasOwn(answer, "result") ? { result: answer.result as JsonValue } : {}),
  };
  return calls.with(index, settled);
};

import type { CommandHeader } from "@umbra/bus";
import {
  applyTwinReported,
  applyUpdate,
  FUNCTION_RESULT_KEY,
  parseJsonPayload,
  readStatePatch,
  ShadowErrors,
  type UpdateRequest,
} from "@umbra/core";
import { type DeviceCommand, type DeviceOp, dialectNamed } from "@umbra/dialects";
import {
  base,
  type CommandContext,
  type CommandHandler,
  type CommandOutcome,
  expectedVersion,
  isRule,
  live,
} from "./context.js";
import { read, refusal, written } from "./outcomes.js";
import { readLive } from "./read.js";

/**
 * `update` and `request`: a write of desired and/or reported. A device's payload is read
 * by the dialect it spoke; a cloud caller's is `{"state"}` and may name the version the
 * shadow must be at. The hot path: a device's report.
 */
export const runUpdate: CommandHandler = (ctx) => {
  const { header, payload, limits, now } = ctx;
  let request: UpdateRequest;
  let asked: CommandHeader = header;
  let clientToken: string | undefined;
  let twin = false;
  if (header.source === "cloud") {
    // A cloud caller may add "version" next to "state": read the payload once.
    const body = parseJsonPayload(payload, limits);
    if (!body.ok) return refusal(ctx, body.error);
    const patch = readStatePatch(body.value);
    if (!patch.ok) return refusal(ctx, patch.error);
    const rule = expectedVersion(header, body.value);
    if (rule !== undefined && !isRule(rule)) return refusal(ctx, rule);
    const { desired, reported } = patch.value;
    request =
      rule === undefined
        ? { desired, reported, source: "cloud" }
        : { desired, reported, source: "cloud", version: rule };
  } else {
    const dialect = dialectNamed(header.dialect);
    if (dialect === undefined)
      return refusal(
        ctx,
        ShadowErrors.invalidParameter("/dialect", `no device dialect '${header.dialect}'`),
      );
    const command = dialect.readCommand(header.op as DeviceOp, payload, limits, header.token);
    if (!command.ok)
      return refusal(
        ctx,
        command.error.error,
        header,
        command.error.code,
        command.error.clientToken,
      );
    const value = command.value;
    // A dialect whose payload names the operation (Alibaba `method: get`).
    if (value.op === "get")
      return readLive(ctx, { ...header, op: "get" }, value.clientToken, value.select);
    if (value.op === "result") return settleCall(ctx, value);
    if (value.op === "derived") {
      // Built from the document as the actor holds it; nothing to write is a read.
      const derived = value.updateFrom(base(ctx));
      if (derived === undefined) {
        const current = live(ctx.doc);
        return current === undefined
          ? refusal(ctx, ShadowErrors.shadowNotFound(), header, undefined, value.clientToken)
          : read(ctx, current, header, value.clientToken);
      }
      request = derived;
      clientToken = value.clientToken;
      if (header.op !== "update") asked = { ...header, op: "update" };
    } else {
      if (value.op !== "update")
        return refusal(ctx, ShadowErrors.invalidParameter("/op", `not an update: ${value.op}`));
      request = value.update;
      clientToken = value.clientToken;
      twin = value.twin === true;
      if (header.op !== "update") asked = { ...header, op: "update" };
    }
  }
  const start = base(ctx);
  const { desired, reported } = request;
  // An Azure device's writes keep the twin's section versions from its first on.
  const write = { now, limits, trackSections: header.dialect === "azure" };
  // A Plug and Play report (Azure), or any device's report once the shadow has a digital
  // twin: writable-property acks {"value","ac","av","ad"} feed the twin's $metadata.
  const result =
    request.source === "device" &&
    desired === undefined &&
    reported !== null &&
    reported !== undefined &&
    (twin || start.metadata.twin !== undefined)
      ? applyTwinReported(start, reported, write)
      : applyUpdate(start, request, write);
  if (!result.ok) return refusal(ctx, result.error, asked, undefined, clientToken);
  return written(ctx, result.value, asked, clientToken);
};

/**
 * A device's answer to a call it was sent as a request of its own (Azure's direct method
 * result): the pending call it names settles as a `reported._function_result` settles
 * it, the result kept in reported as OneNET's is. An answer no pending call matches —
 * late, after its deadline, or never sent — is refused and changes nothing.
 */
const settleCall = (
  ctx: CommandContext,
  answer: Extract<DeviceCommand, { op: "result" }>,
): CommandOutcome => {
  const start = base(ctx);
  const call = start.functions?.find((c) => c.status === "pending" && answer.answers(c.requestId));
  const asked: CommandHeader = { ...ctx.header, op: "update" };
  if (call === undefined)
    return refusal(
      ctx,
      ShadowErrors.functionNotFound(answer.clientToken ?? ""),
      asked,
      undefined,
      answer.clientToken,
    );
  const reported = {
    [FUNCTION_RESULT_KEY]: {
      requestId: call.requestId,
      status: answer.status,
      result: answer.result,
    },
  };
  const result = applyUpdate(
    start,
    { desired: undefined, reported, source: "device" },
    { now: ctx.now, limits: ctx.limits, trackSections: ctx.header.dialect === "azure" },
  );
  if (!result.ok) return refusal(ctx, result.error, asked, undefined, answer.clientToken);
  return written(ctx, result.value, asked, answer.clientToken);
};

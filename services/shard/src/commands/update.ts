import type { CommandHeader } from "@umbra/bus";
import {
  applyTwinReported,
  applyUpdate,
  FUNCTION_RESULT_KEY,
  parseJsonPayload,
  readStatePatch,
  type ShadowDocument,
  ShadowErrors,
  type UpdateRequest,
} from "@umbra/core";
import { type DeviceCommand, type DeviceOp, dialectNamed } from "@umbra/dialects";
import { base, type CommandHandler, expectedVersion, isRule } from "./context.js";
import { refusal, written } from "./outcomes.js";
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
  /** The document the write starts from, once a command needed it to build its request. */
  let start: ShadowDocument | undefined;
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
    clientToken = value.clientToken;
    if (header.op !== "update") asked = { ...header, op: "update" };
    switch (value.op) {
      case "update":
        request = value.update;
        twin = value.twin === true;
        break;
      case "derived": {
        // Built from the document as the actor holds it; nothing to write is a read.
        start = base(ctx);
        const derived = value.updateFrom(start);
        if (derived === undefined) return readLive(ctx, header, clientToken);
        request = derived;
        break;
      }
      case "result": {
        start = base(ctx);
        const settled = settlement(start, value);
        if (settled === undefined)
          return refusal(
            ctx,
            ShadowErrors.functionNotFound(clientToken ?? ""),
            asked,
            undefined,
            clientToken,
          );
        request = settled;
        break;
      }
      default:
        return refusal(ctx, ShadowErrors.invalidParameter("/op", `not an update: ${value.op}`));
    }
  }
  start ??= base(ctx);
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
 * result) as the report that settles it: the pending call it names settles as a
 * `reported._function_result` settles it, the result kept in reported as OneNET's is.
 * `undefined` when no pending call matches — late, after its deadline, or never sent:
 * refused, nothing changes.
 */
const settlement = (
  doc: ShadowDocument,
  answer: Extract<DeviceCommand, { op: "result" }>,
): UpdateRequest | undefined => {
  const call = doc.functions?.find((c) => c.status === "pending" && answer.answers(c.requestId));
  if (call === undefined) return undefined;
  const result = { requestId: call.requestId, status: answer.status, result: answer.result };
  return { desired: undefined, reported: { [FUNCTION_RESULT_KEY]: result }, source: "device" };
};

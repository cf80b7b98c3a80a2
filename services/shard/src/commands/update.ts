import type { CommandHeader } from "@umbra/bus";
import {
  applyTwinReported,
  applyUpdate,
  parseJsonPayload,
  readStatePatch,
  ShadowErrors,
  type UpdateRequest,
} from "@umbra/core";
import { type DeviceOp, dialectNamed } from "@umbra/dialects";
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
    const command = dialect.readCommand(header.op as DeviceOp, payload, limits);
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
    if (value.op === "get") return readLive(ctx, { ...header, op: "get" }, value.clientToken);
    if (value.op !== "update")
      return refusal(ctx, ShadowErrors.invalidParameter("/op", `not an update: ${value.op}`));
    request = value.update;
    clientToken = value.clientToken;
    if (header.op !== "update") asked = { ...header, op: "update" };
  }
  const start = base(ctx);
  const { desired, reported } = request;
  // A device whose shadow has a digital twin reports in the Plug and Play
  // convention: writable-property acks {"value","ac","av","ad"} feed the twin's $metadata.
  const result =
    request.source === "device" &&
    desired === undefined &&
    reported !== null &&
    reported !== undefined &&
    start.metadata.twin !== undefined
      ? applyTwinReported(start, reported, { now, limits })
      : applyUpdate(start, request, { now, limits });
  if (!result.ok) return refusal(ctx, result.error, asked, undefined, clientToken);
  return written(ctx, result.value, asked, clientToken);
};

import type { CommandHeader } from "@umbra/bus";
import { ShadowErrors } from "@umbra/core";
import { type CommandContext, type CommandHandler, type CommandOutcome, live } from "./context.js";
import { read, readDeviceCommand, refusal } from "./outcomes.js";

/**
 * The live document as the event of `header`; refused with "device image not exists"
 * when there is none (never written, or deleted).
 */
export const readLive = (
  ctx: CommandContext,
  header: CommandHeader = ctx.header,
  clientToken?: string,
): CommandOutcome => {
  const current = live(ctx.doc);
  if (current === undefined)
    return refusal(ctx, ShadowErrors.shadowNotFound(), header, undefined, clientToken);
  return read(ctx, current, header, clientToken);
};

/**
 * `get` and `sync`: a read, nothing written. A device's `get` payload is read by its
 * dialect (AWS: the clientToken the answer echoes, or why the request is refused).
 */
export const runRead: CommandHandler = (ctx) => {
  const { header } = ctx;
  if (header.source !== "device" || header.op !== "get") return readLive(ctx);
  const command = readDeviceCommand(ctx);
  if (!command.ok) return command.refused;
  return readLive(ctx, header, command.value.clientToken);
};

import type { CommandHeader } from "@umbra/bus";
import { ShadowErrors } from "@umbra/core";
import { type CommandContext, type CommandHandler, type CommandOutcome, live } from "./context.js";
import { read, refusal } from "./outcomes.js";

/**
 * The live document as the event of `header`; refused with "device image not exists"
 * when there is none (never written, or deleted).
 */
export const readLive = (
  ctx: CommandContext,
  header: CommandHeader = ctx.header,
): CommandOutcome => {
  const current = live(ctx.doc);
  if (current === undefined) return refusal(ctx, ShadowErrors.shadowNotFound(), header);
  return read(ctx, current, header);
};

/** `get` and `sync`: a read, nothing written. */
export const runRead: CommandHandler = (ctx) => readLive(ctx);

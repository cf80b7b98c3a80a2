import type { CommandOp } from "@umbra/bus";
import { ShadowErrors } from "@umbra/core";
import type { CommandContext, CommandHandler, CommandOutcome } from "./context.js";
import { runDelete } from "./delete.js";
import { runFunction } from "./function.js";
import { refusal } from "./outcomes.js";
import { runRead } from "./read.js";
import { runTwin } from "./twin.js";
import { runUpdate } from "./update.js";

export type { CommandContext, CommandHandler, CommandOutcome } from "./context.js";

/** One handler per operation; the record type makes the compiler ask for every op. */
const BY_OP: Readonly<Record<CommandOp, CommandHandler>> = {
  update: runUpdate,
  request: runUpdate,
  get: runRead,
  sync: runRead,
  delete: runDelete,
  twin: runTwin,
  function: runFunction,
};
// A Map: an op read off the wire never reaches Object.prototype's members.
const HANDLERS: ReadonlyMap<string, CommandHandler> = new Map(Object.entries(BY_OP));

/**
 * Runs one command against the document as it stands (pure: the clock is in the
 * context, nothing is written). No document means the device has no shadow yet: a
 * write creates it, a read is refused with "device image not exists".
 */
export const runCommand = (ctx: CommandContext): CommandOutcome => {
  const handler = HANDLERS.get(ctx.header.op);
  if (handler === undefined)
    return refusal(
      ctx,
      ShadowErrors.invalidParameter("/op", `unknown operation '${String(ctx.header.op)}'`),
    );
  return handler(ctx);
};

import type { CommandHeader, RejectedEvent } from "@umbra/bus";
import { metadataOf, type ShadowDocument, type ShadowError, type WriteResult } from "@umbra/core";
import type { CommandContext, CommandOutcome } from "./context.js";

// The outcomes every handler ends in. `header` is the context's unless a handler answers
// as another operation (an Alibaba `method: get` sent as an update is answered as a get).

/** A refused command: nothing changes; the event says why (`code`: the dialect's own). */
export const refusal = (
  ctx: CommandContext,
  error: ShadowError,
  header: CommandHeader = ctx.header,
  code?: number,
): CommandOutcome => ({
  doc: ctx.doc,
  changed: false,
  event: rejected(header, error, ctx.origin, code),
});

/** A read: nothing changes; the event carries the live document at `now`. */
export const read = (
  ctx: CommandContext,
  current: ShadowDocument,
  header: CommandHeader = ctx.header,
): CommandOutcome => ({
  doc: ctx.doc,
  changed: false,
  event: {
    kind: "document",
    device: header.device,
    dialect: header.dialect,
    source: header.source,
    op: header.op,
    origin: ctx.origin,
    document: current,
    timestamp: ctx.now,
  },
});

/** An accepted write's outcome and event. */
export const written = (
  ctx: CommandContext,
  result: WriteResult,
  header: CommandHeader = ctx.header,
): CommandOutcome => {
  const { delta, applied, timestamp } = result;
  const doc = result.doc;
  // One literal with every key (undefined when absent): building events by
  // spreading a base object measured as 5 % of a busy shard.
  return {
    doc,
    changed: true,
    event: {
      kind: "accepted",
      device: header.device,
      dialect: header.dialect,
      source: header.source,
      op: header.op,
      origin: ctx.origin,
      version: doc.version,
      timestamp,
      applied,
      delta,
      deltaMetadata: delta === undefined ? undefined : metadataOf(delta, doc.metadata.desired),
      // Desired changed: dialects that push the whole document (Alibaba control) need it.
      // Device reports, the hot path, leave desired alone and carry none.
      document: doc.desired !== result.previous.desired ? doc : undefined,
    },
  };
};

const rejected = (
  header: CommandHeader,
  error: ShadowError,
  origin: string | undefined,
  code: number | undefined,
): RejectedEvent => ({
  kind: "rejected",
  device: header.device,
  dialect: header.dialect,
  source: header.source,
  op: header.op,
  origin,
  error,
  code,
});

import type { CommandHeader, RejectedEvent } from "@umbra/bus";
import {
  metadataOf,
  type ShadowDocument,
  type ShadowError,
  ShadowErrors,
  type WriteResult,
} from "@umbra/core";
import { type DeviceCommand, type DeviceOp, dialectNamed } from "@umbra/dialects";
import type { CommandContext, CommandOutcome } from "./context.js";

// The outcomes every handler ends in. `header` is the context's unless a handler answers
// as another operation (an Alibaba `method: get` sent as an update is answered as a get).

// `clientToken`: the request's correlation token (AWS), which every event of it carries.
// Every event names the shadow its header names (`undefined`: the classic one).

/** A refused command: nothing changes; the event says why (`code`: the dialect's own). */
export const refusal = (
  ctx: CommandContext,
  error: ShadowError,
  header: CommandHeader = ctx.header,
  code?: number,
  clientToken?: string,
): CommandOutcome => ({
  doc: ctx.doc,
  changed: false,
  event: rejected(header, error, ctx.origin, code, clientToken),
});

/** A read: nothing changes; the event carries the live document at `now`. */
export const read = (
  ctx: CommandContext,
  current: ShadowDocument,
  header: CommandHeader = ctx.header,
  clientToken?: string,
  select?: readonly string[],
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
    clientToken,
    shadow: header.shadow,
    document: current,
    timestamp: ctx.now,
    select,
  },
});

/** An accepted write's outcome and event. */
export const written = (
  ctx: CommandContext,
  result: WriteResult,
  header: CommandHeader = ctx.header,
  clientToken?: string,
): CommandOutcome => {
  const { delta, applied, timestamp } = result;
  const doc = result.doc;
  const desiredChanged = doc.desired !== result.previous.desired;
  const documents = ctx.documents === true;
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
      clientToken,
      shadow: header.shadow,
      version: doc.version,
      timestamp,
      applied,
      delta,
      deltaMetadata: delta === undefined ? undefined : metadataOf(delta, doc.metadata.desired),
      // Desired changed: dialects that push the whole document (Alibaba control) need it.
      // Device reports, the hot path, leave desired alone and carry none — unless an AWS
      // session may listen (`documents`), whose `update/documents` needs both documents.
      document: desiredChanged || documents ? doc : undefined,
      // A clear of desired: Azure says it member by member, from the desired it cleared.
      previous: documents || applied.desired === null ? result.previous : undefined,
      desiredUnchanged: documents && !desiredChanged ? true : undefined,
      awsListens: ctx.awsListens === true ? true : undefined,
    },
  };
};

const rejected = (
  header: CommandHeader,
  error: ShadowError,
  origin: string | undefined,
  code: number | undefined,
  clientToken: string | undefined,
): RejectedEvent => ({
  kind: "rejected",
  device: header.device,
  dialect: header.dialect,
  source: header.source,
  op: header.op,
  origin,
  clientToken,
  shadow: header.shadow,
  error,
  code,
});

/**
 * A device's payload read by the dialect it spoke, or the refusal (with the dialect's
 * code and the clientToken when the reader got that far). Not for the update hot path,
 * which reads inline.
 */
export const readDeviceCommand = (
  ctx: CommandContext,
): { ok: true; value: DeviceCommand } | { ok: false; refused: CommandOutcome } => {
  const { header } = ctx;
  const dialect = dialectNamed(header.dialect);
  if (dialect === undefined)
    return {
      ok: false,
      refused: refusal(
        ctx,
        ShadowErrors.invalidParameter("/dialect", `no device dialect '${header.dialect}'`),
      ),
    };
  const command = dialect.readCommand(header.op as DeviceOp, ctx.payload, ctx.limits, header.token);
  if (command.ok) return command;
  const { error, code, clientToken } = command.error;
  return { ok: false, refused: refusal(ctx, error, header, code, clientToken) };
};

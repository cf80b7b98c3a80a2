import type { CommandHeader } from "@umbra/bus";
import { type ShadowDocument, ShadowErrors } from "@umbra/core";
import { decodeAzureModelSync, isDtmi } from "@umbra/dialects";
import {
  base,
  type CommandContext,
  type CommandHandler,
  type CommandOutcome,
  live,
} from "./context.js";
import { read, readDeviceCommand, refusal } from "./outcomes.js";

/**
 * The live document as the event of `header`; refused with "device image not exists"
 * when there is none (never written, or deleted).
 */
export const readLive = (
  ctx: CommandContext,
  header: CommandHeader = ctx.header,
  clientToken?: string,
  select?: readonly string[],
): CommandOutcome => {
  const current = live(ctx.doc);
  if (current === undefined)
    return refusal(ctx, ShadowErrors.shadowNotFound(), header, undefined, clientToken);
  return read(ctx, current, header, clientToken, select);
};

/**
 * `get` and `sync`: a read, nothing written. A device's `get` payload is read by its
 * dialect (AWS: the clientToken the answer echoes, or why the request is refused).
 */
export const runRead: CommandHandler = (ctx) => {
  const { header } = ctx;
  if (header.dialect === "azure") return readAzure(ctx);
  if (header.source !== "device" || header.op !== "get") return readLive(ctx);
  const command = readDeviceCommand(ctx);
  if (!command.ok) return command.refused;
  return readLive(ctx, header, command.value.clientToken);
};

/**
 * Azure's reads. Every IoT Hub device has a twin: a GET before any write answers the
 * empty one (at the version a deleted shadow left, so `$version`s never go back). A
 * `sync` whose payload names a Plug and Play model id (the CONNECT's `model-id`) records
 * it as the twin's `$model` — stored without a new version: it describes the device,
 * not its state.
 */
const readAzure = (ctx: CommandContext): CommandOutcome => {
  const { header } = ctx;
  if (header.op === "sync") {
    const model = decodeAzureModelSync(ctx.payload);
    if (model === undefined) return readLive(ctx);
    if (!isDtmi(model))
      return refusal(ctx, ShadowErrors.invalidParameter("/model", "the model id is no DTMI"));
    const start = live(ctx.doc) ?? base(ctx);
    if (start.metadata.twin?.model === model) return read(ctx, start);
    const doc: ShadowDocument = {
      ...start,
      metadata: { ...start.metadata, twin: { ...start.metadata.twin, model } },
    };
    return { ...read(ctx, doc), doc, changed: true };
  }
  const command = readDeviceCommand(ctx);
  if (!command.ok) return command.refused;
  return read(ctx, live(ctx.doc) ?? base(ctx), header, command.value.clientToken);
};

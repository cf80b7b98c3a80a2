import { applyTwinPatch, isObject, parseJsonPayload } from "@umbra/core";
import { base, type CommandHandler, expectedVersion, isRule } from "./context.js";
import { refusal, written } from "./outcomes.js";

/** `twin`: a cloud caller's JSON Patch of the digital twin (seed 004), at a version if named. */
export const runTwin: CommandHandler = (ctx) => {
  const { header, now, limits } = ctx;
  const body = parseJsonPayload(ctx.payload, limits);
  if (!body.ok) return refusal(ctx, body.error);
  const rule = expectedVersion(header, body.value);
  if (rule !== undefined && !isRule(rule)) return refusal(ctx, rule);
  const operations = isObject(body.value) ? body.value.patch : undefined;
  const result = applyTwinPatch(
    base(ctx),
    operations,
    rule === undefined ? { now, limits } : { now, limits, version: rule },
  );
  if (!result.ok) return refusal(ctx, result.error);
  return written(ctx, result.value);
};

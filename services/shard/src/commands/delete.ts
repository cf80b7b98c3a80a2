import type { AcceptedEvent } from "@umbra/bus";
import {
  createShadow,
  epochOf,
  parseJsonPayload,
  type ShadowDocument,
  type ShadowError,
  ShadowErrors,
  type VersionRule,
} from "@umbra/core";
import type { DeviceId } from "@umbra/dialects";
import type { Tombstone } from "@umbra/store";
import { type CommandHandler, expectedVersion, isRule, live } from "./context.js";
import { readDeviceCommand, refusal } from "./outcomes.js";

/**
 * The tombstone of `current`: the version after its own, or, for a shadow an Alibaba
 * device moved to the largest safe version, version 0 in the next epoch (a stored
 * version must be an exact integer; the pair still never repeats).
 */
const tombstoneOf = (current: ShadowDocument, device: DeviceId, now: number): Tombstone => {
  const fresh = createShadow(device.productId, device.deviceName, now);
  const epoch = epochOf(current);
  if (current.version < Number.MAX_SAFE_INTEGER)
    return epoch === 0
      ? { ...fresh, version: current.version + 1, deleted: true }
      : { ...fresh, version: current.version + 1, epoch, deleted: true };
  return { ...fresh, version: 0, epoch: epoch + 1, deleted: true };
};

/**
 * `delete`: the shadow becomes a tombstone (a write, so the record's rev goes on), at
 * the version a cloud caller names if it names one. A device's delete (AWS) is read by
 * its dialect for its clientToken; it names no version (v1's `version` is ignored).
 */
export const runDelete: CommandHandler = (ctx) => {
  const { header, payload, origin, now } = ctx;
  let clientToken: string | undefined;
  if (header.source === "device") {
    const command = readDeviceCommand(ctx);
    if (!command.ok) return command.refused;
    clientToken = command.value.clientToken;
  }
  const current = live(ctx.doc);
  if (current === undefined)
    return refusal(ctx, ShadowErrors.shadowNotFound(), header, undefined, clientToken);
  let rule: VersionRule | ShadowError | undefined;
  if (payload.length > 0 && header.source === "cloud") {
    const body = parseJsonPayload(payload, ctx.limits);
    if (!body.ok) return refusal(ctx, body.error);
    rule = expectedVersion(header, body.value);
  }
  if (rule !== undefined && !isRule(rule)) return refusal(ctx, rule);
  if (rule !== undefined && rule.kind === "expected") {
    const epoch = epochOf(current);
    if (rule.version !== current.version || (rule.epoch !== undefined && rule.epoch !== epoch))
      return refusal(
        ctx,
        ShadowErrors.versionConflict(
          rule.version,
          current.version,
          rule.epoch === undefined ? undefined : { expected: rule.epoch, current: epoch },
        ),
      );
  }
  const tombstone = tombstoneOf(current, ctx.device, now);
  const event: AcceptedEvent = {
    kind: "accepted",
    device: header.device,
    dialect: header.dialect,
    source: header.source,
    op: header.op,
    origin,
    clientToken,
    shadow: header.shadow,
    version: tombstone.version,
    timestamp: now,
    applied: { desired: null, reported: null },
    delta: undefined,
    deltaMetadata: undefined,
  };
  return { doc: tombstone, changed: true, event };
};

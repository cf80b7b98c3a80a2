import type { CommandHeader, ShadowEvent } from "@umbra/bus";
import {
  createShadow,
  expireBeforeWrite,
  isObject,
  type Limits,
  type ShadowDocument,
  type ShadowError,
  ShadowErrors,
  type VersionRule,
} from "@umbra/core";
import type { DeviceId } from "@umbra/dialects";
import { isTombstone } from "@umbra/store";

/**
 * One command and what it runs against, built once per command by the actor. Handlers
 * are pure: the clock is `now`, and nothing is written.
 */
export interface CommandContext {
  /**
   * The document as stored: `undefined` when the device has no shadow yet, or a
   * tombstone once it was deleted (see `live`).
   */
  readonly doc: ShadowDocument | undefined;
  readonly device: DeviceId;
  readonly header: CommandHeader;
  readonly payload: Uint8Array;
  /** ms */
  readonly now: number;
  readonly limits: Limits;
  /** The inbox of the edge a device's own request came through; its event carries it. */
  readonly origin: string | undefined;
  /**
   * Accepted writes carry the documents before and after (`previous`, `document`): an
   * AWS session may listen for `update/documents`. False on the hot path (a device no
   * AWS client watches), whose events stay as small as they were.
   */
  readonly documents?: boolean;
  /** An AWS session may listen: accepted events say so (`ShadowEvent.awsListens`). */
  readonly awsListens?: boolean;
}

/** What one command did to a document: the new document (if it changed) and the event. */
export interface CommandOutcome {
  readonly doc: ShadowDocument | undefined;
  readonly changed: boolean;
  readonly event: ShadowEvent;
}

/** Runs one operation. */
export type CommandHandler = (ctx: CommandContext) => CommandOutcome;

/** The live document, or `undefined` when there is none (never stored, or deleted). */
export const live = (doc: ShadowDocument | undefined): ShadowDocument | undefined =>
  isTombstone(doc) ? undefined : doc;

/**
 * The document a write starts from: the live one, or an empty one after any tombstone.
 * Function calls past their deadline time out, and finished calls past their retention
 * go, as part of the write (seed 001: expired calls are cleaned up).
 */
export const base = ({ doc, device, now, limits }: CommandContext): ShadowDocument => {
  if (doc !== undefined && !isTombstone(doc)) return expireBeforeWrite(doc, { now, limits });
  const fresh = createShadow(device.productId, device.deviceName, now);
  if (doc === undefined) return fresh;
  return doc.epoch === undefined
    ? { ...fresh, version: doc.version }
    : { ...fresh, version: doc.version, epoch: doc.epoch };
};

/**
 * A cloud caller's `"version"`: the version the shadow must be at (If-Match), and its
 * `"epoch"` when given (the API's ETag names it: a version alone repeats after an
 * Alibaba reset).
 */
export const expectedVersion = (
  header: CommandHeader,
  body: unknown,
): VersionRule | ShadowError | undefined => {
  if (header.source !== "cloud" || !isObject(body) || body.version === undefined) return undefined;
  const version = body.version;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0)
    return ShadowErrors.invalidVersion("the expected version must be a non-negative integer");
  const epoch = body.epoch;
  if (epoch === undefined) return { kind: "expected", version };
  if (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0)
    return ShadowErrors.invalidVersion("the expected epoch must be a non-negative integer");
  return { kind: "expected", version, epoch };
};

export const isRule = (value: VersionRule | ShadowError | undefined): value is VersionRule =>
  value !== undefined && "kind" in value;

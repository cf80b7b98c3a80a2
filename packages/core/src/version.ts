import { diffPatch } from "./delta.js";
import {
  epochOf,
  type MetadataTree,
  type ShadowDocument,
  type ShadowMetadata,
} from "./document.js";
import { type ShadowError, ShadowErrors } from "./errors.js";
import { isEmptyObject, type JsonObject } from "./json.js";
import { err, ok, type Result } from "./result.js";

/*
 * Version rules: how a request's version is judged and what version a write gives the
 * shadow (and Alibaba's reset). Split from `update.ts`, which applies the write.
 */

const EMPTY: JsonObject = Object.freeze({});
const EMPTY_META: MetadataTree = Object.freeze({});

/**
 * How a request's version is judged, and what version the write gives the shadow:
 * - `none`: any version is fine; the shadow goes one on;
 * - `expected`: the shadow must be at exactly this version (AWS, HTTP If-Match), and in
 *   this `epoch` when one is given (an ETag names it; see `ShadowDocument.epoch`); the
 *   shadow goes one on;
 * - `newer` (Alibaba, seed 002): the request's version must be greater than the
 *   shadow's, and the shadow takes it (a Node SDK device sends `Date.now()`, so the
 *   version jumps); `-1` clears the shadow and resets its version to 0 (see `cleared`).
 */
export type VersionRule =
  | { readonly kind: "none" }
  | { readonly kind: "expected"; readonly version: number; readonly epoch?: number }
  | { readonly kind: "newer"; readonly version: number };

/**
 * Judges a version rule against the shadow's version (and reset epoch); returns the
 * version the write will produce.
 */
export const nextVersion = (
  current: number,
  rule: VersionRule | undefined,
  epoch = 0,
): Result<number, ShadowError> => {
  if (rule === undefined || rule.kind === "none") return oneOn(current);
  const requested = rule.version;
  if (!Number.isSafeInteger(requested))
    return err(ShadowErrors.invalidVersion("the version must be an integer"));
  if (rule.kind === "expected") {
    if (requested < 0) return err(ShadowErrors.invalidVersion("the version must not be negative"));
    const expectedEpoch = rule.epoch;
    if (expectedEpoch !== undefined && expectedEpoch !== epoch)
      return err(
        ShadowErrors.versionConflict(requested, current, {
          expected: expectedEpoch,
          current: epoch,
        }),
      );
    return requested === current
      ? oneOn(current)
      : err(ShadowErrors.versionConflict(requested, current));
  }
  if (requested === -1) return ok(0);
  if (requested < -1)
    return err(ShadowErrors.invalidVersion("the version must be -1 (reset) or not negative"));
  return requested > current
    ? ok(requested)
    : err(ShadowErrors.versionNotNewer(requested, current));
};

/**
 * The version after `current`. An Alibaba device may move the version up to the
 * largest safe integer; past it the shadow cannot go on (a stored document must hold
 * an exact integer) until such a device resets it with `-1`, which is what Alibaba
 * has `-1` for.
 */
export const oneOn = (current: number): Result<number, ShadowError> =>
  current < Number.MAX_SAFE_INTEGER
    ? ok(current + 1)
    : err(ShadowErrors.invalidVersion("the shadow's version is at its maximum; reset it with -1"));

/** Whether a rule is Alibaba's reset (`"version": -1`). */
export const isReset = (rule: VersionRule | undefined): boolean =>
  rule !== undefined && rule.kind === "newer" && rule.version === -1;

/**
 * The document an Alibaba reset (`"version": -1`) starts from. Alibaba: it "clears the
 * shadow data and resets the version to 0"; the request's own sections are then applied
 * onto the empty document, at version 0 (`{"state":{"reported":{"a":1}},"version":-1}`
 * leaves only reported.a).
 *
 * Cleared, as the shadow data: desired and reported with their metadata, and the twin's
 * acks and components, which describe those values (an old ack left behind would pair
 * with the new desired values, whose versions start again from 0).
 * Kept: the function calls, which are the cloud's and not the device's to drop (a
 * pending call is still owed: `finishWrite` puts it back in desired._function, so the
 * device hears of it again, and the API still finds every call it handed out); the
 * twin's model id, the device's identity rather than data; sync bookkeeping, which the
 * write recomputes. The epoch goes one on: the version alone repeats after a reset.
 */
export const cleared = (doc: ShadowDocument): ShadowDocument => {
  const twin = doc.metadata.twin;
  const sync = doc.metadata.sync;
  const metadata: ShadowMetadata =
    twin === undefined
      ? { reported: EMPTY_META, desired: EMPTY_META, sync }
      : {
          reported: EMPTY_META,
          desired: EMPTY_META,
          sync,
          // The section versions are left to the reset's write: it sets both.
          twin: twin.model === undefined ? {} : { model: twin.model },
        };
  return {
    ...doc,
    version: 0,
    desired: EMPTY,
    reported: EMPTY,
    metadata,
    epoch: epochOf(doc) + 1,
  };
};

/** A reset's net change to one section as a merge patch (`null`: the section emptied). */
export const resetChange = (
  before: JsonObject,
  after: JsonObject,
): JsonObject | null | undefined => {
  if (isEmptyObject(after)) return isEmptyObject(before) ? undefined : null;
  return diffPatch(before, after);
};

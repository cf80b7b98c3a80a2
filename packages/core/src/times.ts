/**
 * Reported values that carry the time they were measured (OneNET thing model `time`,
 * `UpdateRequest.times`): late data — a device's history upload — must not overwrite a
 * newer value already reported.
 */
import {
  isSubtree,
  type LeafMetadata,
  type MetadataTree,
  type ShadowDocument,
} from "./document.js";
import { hasOwn, type JsonObject, type JsonValue } from "./json.js";
import type { PropertyTimes } from "./update.js";

/** The newest timestamp (ms) under a node of a section: its leaf's, or its leaves' latest. */
const latestUnder = (
  key: string,
  value: JsonValue,
  meta: LeafMetadata | MetadataTree,
): number | undefined => {
  if (!isSubtree(key, value)) return (meta as LeafMetadata).timestamp;
  let latest: number | undefined;
  const tree = meta as MetadataTree;
  for (const k in value) {
    if (!hasOwn(tree, k)) continue;
    const t = latestUnder(k, value[k] as JsonValue, tree[k] as LeafMetadata | MetadataTree);
    if (t !== undefined && (latest === undefined || t > latest)) latest = t;
  }
  return latest;
};

/**
 * When the shadow's reported `property` was last written, ms: the latest timestamp of
 * its leaves. `undefined` when it has no such property.
 */
export const reportedTimeOf = (doc: ShadowDocument, property: string): number | undefined => {
  if (!hasOwn(doc.reported, property) || !hasOwn(doc.metadata.reported, property)) return undefined;
  return latestUnder(
    property,
    doc.reported[property] as JsonValue,
    doc.metadata.reported[property] as LeafMetadata | MetadataTree,
  );
};

/** What `newerThanReported` keeps of a timed report, and what it leaves out. */
export interface NewerReport {
  /** The properties whose time is not older than the shadow's value (or that have none). */
  readonly reported: JsonObject;
  readonly times: PropertyTimes;
  /** The properties left out: the shadow holds a newer value. */
  readonly older: readonly string[];
}

/**
 * `reported` without the properties the shadow already holds a newer value of: a
 * property is kept when `times` gives it no time, when the shadow has no value of it,
 * or when its time is at least the shadow's (`reportedTimeOf`; an equal time may
 * write). Run by the device's actor on the document it is about to update, so nothing
 * can come in between.
 */
export const newerThanReported = (
  doc: ShadowDocument,
  reported: JsonObject,
  times: PropertyTimes,
): NewerReport => {
  let kept: Record<string, JsonValue> | undefined;
  let keptTimes: Record<string, number> | undefined;
  const older: string[] = [];
  for (const key in reported) {
    const time = hasOwn(times, key) ? times[key] : undefined;
    const stored = time === undefined ? undefined : reportedTimeOf(doc, key);
    if (time !== undefined && stored !== undefined && time < stored) {
      older.push(key);
      continue;
    }
    kept ??= {};
    // Plain objects built from device input: `__proto__` must stay an own key.
    Object.defineProperty(kept, key, { value: reported[key], enumerable: true, writable: true });
    if (time !== undefined) {
      keptTimes ??= {};
      Object.defineProperty(keptTimes, key, { value: time, enumerable: true, writable: true });
    }
  }
  if (older.length === 0) return { reported, times, older };
  return { reported: kept ?? {}, times: keptTimes ?? {}, older };
};

import {
  isSubtree,
  type LeafMetadata,
  type MetadataTree,
  type ShadowDocument,
} from "../document.js";
import { hasOwn, isEmptyObject, type JsonObject } from "../json.js";

/** Shadow protocols count time in whole seconds; the canonical document in ms. */
export const seconds = (ms: number): number => Math.floor(ms / 1000);

export interface TimestampLeaf {
  readonly timestamp: number;
}
export interface TimestampTree {
  readonly [key: string]: TimestampLeaf | TimestampTree;
}

/** `{"color":{"timestamp":1469574492}}` for the leaves of `state`, from their metadata. */
export const timestampTree = (state: JsonObject, metadata: MetadataTree): TimestampTree => {
  const out: Record<string, TimestampLeaf | TimestampTree> = {};
  for (const key in state) {
    if (!hasOwn(metadata, key)) continue;
    const node = metadata[key];
    const value = state[key];
    out[key] = isSubtree(key, value)
      ? timestampTree(value, node as MetadataTree)
      : { timestamp: seconds((node as LeafMetadata).timestamp) };
  }
  return out;
};

/** The same shape for a request's patch, all of whose leaves were written at one time. */
export const uniformTimestampTree = (patch: JsonObject, timestamp: number): TimestampTree => {
  const out: Record<string, TimestampLeaf | TimestampTree> = {};
  for (const key in patch) {
    const value = patch[key];
    out[key] = isSubtree(key, value) ? uniformTimestampTree(value, timestamp) : { timestamp };
  }
  return out;
};

/** Metadata sections for an applied patch: `{desired: {...}, reported: {...}}`. */
export const appliedTimestamps = (
  applied: { readonly desired?: JsonObject | null; readonly reported?: JsonObject | null },
  timestamp: number,
): { desired?: TimestampTree | TimestampLeaf; reported?: TimestampTree | TimestampLeaf } => {
  const out: { desired?: TimestampTree | TimestampLeaf; reported?: TimestampTree | TimestampLeaf } =
    {};
  if (applied.desired !== undefined)
    out.desired =
      applied.desired === null ? { timestamp } : uniformTimestampTree(applied.desired, timestamp);
  if (applied.reported !== undefined)
    out.reported =
      applied.reported === null ? { timestamp } : uniformTimestampTree(applied.reported, timestamp);
  return out;
};

/** `state` and `metadata` with a desired / reported section only where it has something. */
export const nonEmptySections = (
  doc: ShadowDocument,
): { state: JsonObject; metadata: JsonObject } => {
  const state: Record<string, JsonObject> = {};
  const metadata: Record<string, JsonObject> = {};
  if (!isEmptyObject(doc.desired)) {
    state.desired = doc.desired;
    metadata.desired = timestampTree(doc.desired, doc.metadata.desired) as JsonObject;
  }
  if (!isEmptyObject(doc.reported)) {
    state.reported = doc.reported;
    metadata.reported = timestampTree(doc.reported, doc.metadata.reported) as JsonObject;
  }
  return { state, metadata };
};

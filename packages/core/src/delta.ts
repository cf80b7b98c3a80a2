import { FUNCTION_KEY, isSubtree, type LeafMetadata, type MetadataTree } from "./document.js";
import { hasOwn, isObject, type JsonObject, type JsonValue, jsonEqual } from "./json.js";

/**
 * Every desired leaf whose value differs from reported, at its full path. Arrays are
 * values and compare whole. A desired object facing a reported leaf (or nothing) is
 * different in every leaf, so it is taken whole. `desired._function` belongs to the
 * delta only while the call is pending: that is how the device learns of it.
 * Returns `undefined` when desired and reported agree.
 */
export const computeDelta = (desired: JsonObject, reported: JsonObject): JsonObject | undefined => {
  let delta: Record<string, JsonValue> | undefined;
  for (const key in desired) {
    const want = desired[key] as JsonValue;
    let differs: JsonValue | undefined;
    if (key === FUNCTION_KEY) {
      if (isObject(want) && want.status === "pending") differs = want;
    } else {
      const have = hasOwn(reported, key) ? reported[key] : undefined;
      if (isSubtree(key, want) && isSubtree(key, have)) differs = computeDelta(want, have);
      else if (isSubtree(key, want) || !jsonEqual(want, have)) differs = want;
    }
    if (differs !== undefined) {
      delta ??= {};
      delta[key] = differs;
    }
  }
  return delta;
};

/**
 * The metadata of the leaves of `subset`, a tree whose shape is a part of the state
 * that `metadata` describes (a delta is a part of desired).
 */
export const metadataOf = (subset: JsonObject, metadata: MetadataTree): MetadataTree => {
  const out: Record<string, LeafMetadata | MetadataTree> = {};
  for (const key in subset) {
    const node = hasOwn(metadata, key) ? metadata[key] : undefined;
    if (node === undefined) continue;
    const value = subset[key];
    out[key] = isSubtree(key, value) ? metadataOf(value, node as MetadataTree) : node;
  }
  return out;
};

/**
 * The net change from one tree to another, as a merge patch: what a reply echoes of a
 * write that replaced rather than merged (a twin patch, an Alibaba reset).
 */
export const diffPatch = (before: JsonObject, after: JsonObject): JsonObject => {
  const out: Record<string, JsonValue> = {};
  for (const key in before) if (!hasOwn(after, key)) out[key] = null;
  for (const key in after) {
    const a = after[key] as JsonValue;
    const b = hasOwn(before, key) ? before[key] : undefined;
    if (isSubtree(key, a) && isSubtree(key, b)) {
      const sub = diffPatch(b, a);
      if (Object.keys(sub).length > 0) out[key] = sub;
    } else if (!jsonEqual(a, b)) out[key] = a;
  }
  return out;
};

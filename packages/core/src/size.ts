/**
 * The document size limit without encoding the document on every write.
 *
 * Merging a patch into a section grows its JSON by at most the patch's own JSON: each
 * patch entry adds at most its bytes (the patch's braces pay for a separating comma),
 * replacing a value costs at most the new value, deletes shrink. So a section's size
 * is bounded by its last exact size plus the patches merged since. The bound is kept
 * per section object; only when it would cross the limit is the section encoded
 * exactly, which resets the bound. A 2.8 KB document under the 16 KiB limit is
 * measured exactly about once per 200 writes instead of on every one.
 */
import { encodedByteLength } from "./encode.js";
import type { JsonObject } from "./json.js";

const bounds = new WeakMap<JsonObject, number>();

/** Exact UTF-8 size of a section's JSON; remembered as its bound. */
export const exactSectionSize = (section: JsonObject): number => {
  const size = encodedByteLength(section);
  bounds.set(section, size);
  return size;
};

/** An upper bound of a section's size: remembered, or measured now. */
export const sectionSizeBound = (section: JsonObject): number =>
  bounds.get(section) ?? exactSectionSize(section);

/** Records that `next` came from merging `patchBytes` of patch into `previous`. */
export const deriveSectionBound = (
  previous: JsonObject,
  next: JsonObject,
  patchBytes: number,
): void => {
  if (next === previous) return;
  const base = bounds.get(previous);
  if (base !== undefined) bounds.set(next, base + patchBytes);
};

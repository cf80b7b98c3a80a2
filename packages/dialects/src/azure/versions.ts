/**
 * Azure's two `$version`s on Umbra's one document (DIALECTS.md §2.2, §5).
 *
 * IoT Hub gives desired and reported each its own version, one on per change to that
 * section, and a device trusts them to only ever grow (it compares desired `$version`s
 * to see a stale patch). Umbra's document has one version, which a write to either
 * section moves, and which an Alibaba reset (`"version": -1`) sends back to 0 — so
 * neither `$version` can be the canonical version itself.
 *
 * Design: two counters kept with the document (proposed home:
 * `metadata.twin.sectionVersions`, beside the model id and the acks), advanced by the
 * engine on every accepted write from any dialect or the API:
 * - a write that applied something to desired moves `desired` one on; one that applied
 *   something to reported moves `reported` one on (a write touching both moves both);
 * - a reset applies to both sections (it clears them), so both move on — from where
 *   they were, never from 0: the counters survive `cleared()` as the model id does;
 * - a document written before counters existed starts both from its canonical version,
 *   which is at least the number of writes it has had in its current epoch, so what a
 *   device was shown before (the same canonical version, read through
 *   `azureSectionVersionsOf`) is never more than what it is shown next.
 *
 * The counters are plain integers in the document: reading them for a GET, a reported
 * patch's `&$version=` or a desired push costs nothing more than reading the version.
 */
export interface AzureSectionVersions {
  readonly desired: number;
  readonly reported: number;
}

/** What a write changed, by section (from the write's `applied`, or a reset's change). */
export interface SectionsTouched {
  readonly desired: boolean;
  readonly reported: boolean;
}

/**
 * The `$version`s to show for a document: its stored counters, or — for a document that
 * has none yet — its canonical version for both.
 */
export const azureSectionVersionsOf = (
  stored: AzureSectionVersions | undefined,
  canonicalVersion: number,
): AzureSectionVersions => stored ?? { desired: canonicalVersion, reported: canonicalVersion };

/** One on, stopping at the largest exact integer (a document must store an exact number). */
const oneOn = (n: number): number => (n < Number.MAX_SAFE_INTEGER ? n + 1 : n);

/**
 * The counters after an accepted write: `before` is what the document stored (or
 * `undefined`), `canonicalBefore` its version before the write (only read when nothing
 * was stored), `touched` the sections the write applied something to. The canonical
 * version after the write is never read: after an Alibaba reset it is 0 again, and the
 * counters go on from where they were.
 */
export const azureSectionVersionsAfter = (
  before: AzureSectionVersions | undefined,
  canonicalBefore: number,
  touched: SectionsTouched,
): AzureSectionVersions => {
  const start = azureSectionVersionsOf(before, canonicalBefore);
  if (!touched.desired && !touched.reported) return start;
  return {
    desired: touched.desired ? oneOn(start.desired) : start.desired,
    reported: touched.reported ? oneOn(start.reported) : start.reported,
  };
};

/**
 * Which sections a write's `applied` (the engine's `WriteResult.applied`, an event's
 * `applied`) touched: a section present, as an object or as `null` (cleared).
 */
export const sectionsTouchedBy = (applied: {
  readonly desired?: unknown;
  readonly reported?: unknown;
}): SectionsTouched => ({
  desired: applied.desired !== undefined,
  reported: applied.reported !== undefined,
});

/**
 * A shard's reply as an HTTP answer: the document with its version as the ETag, or the
 * problem the refusal maps to; and `If-Match` read back into the version a write expects.
 */
import type { CommandAnswer, ExpectedVersion } from "@umbra/bus";
import type { ShadowDocument as Doc } from "@umbra/core";
import { fail, ProblemError, shadowProblem } from "../problems.js";
import type { Reply } from "../routing.js";

/**
 * `ETag: "7"` for version 7; `"2:7"` for version 7 of a shadow an Alibaba device reset
 * twice. A reset takes the version back to 0, so the number alone repeats; with the
 * epoch an ETag taken before a reset never matches after it (no lost update).
 */
export const etag = (doc: Pick<Doc, "version" | "epoch">): string =>
  doc.epoch === undefined ? `"${doc.version}"` : `"${doc.epoch}:${doc.version}"`;

/**
 * The version (and reset epoch) an `If-Match` header asks for: `undefined` when absent
 * or `*`. Only the ETags this API hands out (`"7"`, `"2:7"`, weak `W/"7"` too) can match.
 */
export const parseIfMatch = (
  header: string | string[] | undefined,
): ExpectedVersion | undefined => {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(",") : header).trim();
  if (value === "*") return undefined;
  const match = /^(?:W\/)?"(?:(\d{1,16}):)?(\d{1,16})"$/.exec(value);
  const epoch = Number(match?.[1] ?? 0);
  const version = Number(match?.[2]);
  if (match === null || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(version))
    return fail("bad-request", 'If-Match must be one ETag this API issued, like "7", or *');
  return { version, epoch };
};

export const problemOf = (reply: CommandAnswer & { ok: false }): never => {
  throw new ProblemError(shadowProblem(reply.error));
};

/** The document of a successful reply; a refused one becomes its problem. */
export const documentOf = (reply: CommandAnswer): Doc => {
  if (!reply.ok) return problemOf(reply);
  if (reply.document === undefined) return fail("internal", "the shard sent no document");
  return reply.document;
};

/** `body` (the document or a view of it) with the document's version as its ETag. */
export const withEtag = (doc: Doc, body: unknown, status = 200): Reply => ({
  status,
  body,
  headers: { etag: etag(doc) },
});

/** For the OpenAPI document: the ETag a shadow's answer carries. */
export const ETAG_HEADER = {
  ETag: 'the shadow\'s version, quoted ("7"; "2:7" after two Alibaba resets)',
} as const;

export const ifMatchHeader = [
  {
    name: "If-Match",
    description:
      'the ETag of the version the shadow must be at ("7", or "2:7" after Alibaba resets); otherwise 412',
    schema: { type: "string" },
  },
] as const;

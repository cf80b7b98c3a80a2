import {
  type AwsOptions,
  encodeJson,
  renderAwsDeleteAccepted,
  renderAwsDelta,
  renderAwsDocuments,
  renderAwsError,
  renderAwsGetAccepted,
  renderAwsUpdateAccepted,
  type ShadowDocument,
  type ShadowError,
} from "@umbra/core";
import type { AcceptedEvent } from "../events.js";

/**
 * Bodies of the AWS answer topics (DIALECTS.md §1.2–§1.3) as JSON text, from what a
 * shard event carries; the engine's AWS views (`@umbra/core` `views/aws.ts`) shape
 * them. Every body echoes the request's clientToken when it had one — rejections too:
 * the v2 client matches answers by it and never completes a request without it.
 * Timestamps are seconds.
 */

const optionsOf = (clientToken: string | undefined): AwsOptions | undefined =>
  clientToken === undefined ? undefined : { clientToken };

/** `P/update/accepted`: the request's state as applied, with its metadata. */
export const awsUpdateAcceptedBody = (
  event: Pick<AcceptedEvent, "applied" | "timestamp" | "version">,
  clientToken: string | undefined,
): string =>
  encodeJson(
    renderAwsUpdateAccepted(
      { applied: event.applied, timestamp: event.timestamp, doc: { version: event.version } },
      optionsOf(clientToken),
    ),
  );

/** `P/update/delta`, or `undefined` when the write left desired = reported. */
export const awsDeltaBody = (
  event: Pick<AcceptedEvent, "delta" | "deltaMetadata" | "timestamp" | "version">,
  clientToken: string | undefined,
): string | undefined => {
  if (event.delta === undefined || event.deltaMetadata === undefined) return undefined;
  const body = renderAwsDelta(
    {
      delta: event.delta,
      timestamp: event.timestamp,
      doc: { version: event.version, metadata: { desired: event.deltaMetadata } },
    },
    optionsOf(clientToken),
  );
  return body === undefined ? undefined : encodeJson(body);
};

/** `P/update/documents`: the whole shadow before and after a write. */
export const awsDocumentsBody = (
  previous: ShadowDocument,
  current: ShadowDocument,
  timestampMs: number,
  clientToken: string | undefined,
): string =>
  encodeJson(
    renderAwsDocuments({ previous, doc: current, timestamp: timestampMs }, optionsOf(clientToken)),
  );

/** `P/get/accepted`: the whole shadow, and the delta when desired ≠ reported. */
export const awsGetAcceptedBody = (
  doc: ShadowDocument,
  nowMs: number,
  clientToken: string | undefined,
): string => encodeJson(renderAwsGetAccepted(doc, nowMs, optionsOf(clientToken)));

/** `P/delete/accepted`: the version the deletion took. */
export const awsDeleteAcceptedBody = (
  version: number,
  timestampMs: number,
  clientToken: string | undefined,
): string => encodeJson(renderAwsDeleteAccepted(version, timestampMs, optionsOf(clientToken)));

/**
 * `P/…/rejected`: `{"code","message","timestamp"[,"clientToken"]}`. A missing shadow
 * is named as AWS names it (`No shadow exists with name: {name}`): the named shadow's
 * name, or the thing's for the classic one.
 */
export const awsRejectedBody = (
  error: ShadowError,
  nowMs: number,
  clientToken: string | undefined,
  shadowName: string,
): string => {
  const body = renderAwsError(error, nowMs, optionsOf(clientToken));
  if (error._tag === "ShadowNotFound") body.message = `No shadow exists with name: ${shadowName}`;
  return encodeJson(body);
};

import { computeDelta } from "../delta.js";
import type { MetadataTree, ShadowDocument } from "../document.js";
import type { ShadowError } from "../errors.js";
import type { JsonObject } from "../json.js";
import type { WriteResult } from "../update.js";
import { appliedTimestamps, seconds, type TimestampTree, timestampTree } from "./common.js";

/** OneNET device image error codes and messages (seed 000). */
export const ONENET_ERROR_MESSAGES = {
  128: "unspecified error",
  160: "illegal json",
  161: "json out of bound",
  162: "json depth out of bound",
  163: "state key not found",
  164: "desired or reported key not found",
  165: "invalid parameters",
  166: "device image existed",
  167: "device image not exists",
} as const;

export type OneNetErrorCode = keyof typeof ONENET_ERROR_MESSAGES;

export const oneNetErrorCode = (error: ShadowError): OneNetErrorCode => {
  switch (error._tag) {
    case "InvalidJson":
    case "InvalidEncoding":
      return 160;
    case "PayloadTooLarge":
    case "DocumentTooLarge":
      return 161;
    case "DepthExceeded":
      return 162;
    case "StateMissing":
      return 163;
    case "DesiredReportedMissing":
      return 164;
    case "InvalidParameter":
    case "InvalidVersion":
    case "VersionConflict":
    case "VersionNotNewer":
    case "TwinNotConformant":
    case "TwinPatchInvalid":
    case "TooManyProperties":
    case "FunctionNotFound":
    case "QueueFull":
      return 165;
    case "ShadowExists":
      return 166;
    case "ShadowNotFound":
      return 167;
    case "Unspecified":
      return 128;
  }
};

export interface OneNetRejected {
  readonly err_code: OneNetErrorCode;
  readonly err_msg: string;
}

/** `…/image/update/rejected` and `…/image/get/rejected` payload. */
export const renderOneNetRejected = (error: ShadowError): OneNetRejected => {
  const code = oneNetErrorCode(error);
  return { err_code: code, err_msg: ONENET_ERROR_MESSAGES[code] };
};

export interface OneNetImageMessage {
  readonly state: JsonObject;
  readonly metadata: JsonObject;
  readonly version: number;
  readonly timestamp: number;
}

/** `…/image/update/accepted`: the state the request applied, its metadata, the new version. */
export const renderOneNetUpdateAccepted = (result: WriteResult): OneNetImageMessage =>
  oneNetUpdateAccepted(result.applied, result.doc.version, result.timestamp);

/** `…/image/update/accepted` from its parts (what a result event carries). */
export const oneNetUpdateAccepted = (
  applied: WriteResult["applied"],
  version: number,
  timestampMs: number,
): OneNetImageMessage => {
  const ts = seconds(timestampMs);
  return {
    state: applied as JsonObject,
    metadata: appliedTimestamps(applied, ts) as JsonObject,
    version,
    timestamp: ts,
  };
};

/** `…/image/get/accepted`: the whole image. */
export const renderOneNetGetAccepted = (
  doc: ShadowDocument,
  nowMs: number,
): OneNetImageMessage => ({
  state: { desired: doc.desired, reported: doc.reported },
  metadata: {
    desired: timestampTree(doc.desired, doc.metadata.desired) as JsonObject,
    reported: timestampTree(doc.reported, doc.metadata.reported) as JsonObject,
  },
  version: doc.version,
  timestamp: seconds(nowMs),
});

/**
 * `…/image/update/delta`, exactly as seed 000 shows it. `delta` defaults to the
 * document's current delta; returns `undefined` when there is none to send.
 */
export const renderOneNetDelta = (
  doc: ShadowDocument,
  timestampMs: number,
  delta: JsonObject | undefined = computeDelta(doc.desired, doc.reported),
): OneNetImageMessage | undefined => {
  if (delta === undefined) return undefined;
  return oneNetDelta(delta, doc.metadata.desired, doc.version, timestampMs);
};

/**
 * `…/image/update/delta` from its parts: the delta and the desired-side metadata of
 * (at least) its leaves.
 */
export const oneNetDelta = (
  delta: JsonObject,
  desiredMetadata: MetadataTree,
  version: number,
  timestampMs: number,
): OneNetImageMessage => ({
  state: delta,
  metadata: timestampTree(delta, desiredMetadata) as TimestampTree as JsonObject,
  version,
  timestamp: seconds(timestampMs),
});

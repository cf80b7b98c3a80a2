import { computeDelta } from "../delta.js";
import type { MetadataTree, ShadowDocument } from "../document.js";
import type { ShadowError } from "../errors.js";
import type { WriteResult } from "../update.js";
import { appliedTimestamps, nonEmptySections, seconds, timestampTree } from "./common.js";

export interface AwsOptions {
  readonly clientToken?: string;
}

const token = (options: AwsOptions | undefined): { clientToken?: string } =>
  options?.clientToken === undefined ? {} : { clientToken: options.clientToken };

/**
 * AWS's messages for the request nodes it names (device-shadow-error-messages); a
 * property below desired / reported keeps Umbra's description.
 */
const invalidNodeMessage = (path: string, reason: string): string => {
  switch (path) {
    case "/state":
      return "State node must be an object";
    case "/state/desired":
      return "Desired node must be an object";
    case "/state/reported":
      return "Reported node must be an object";
    case "/clientToken":
      return "Invalid clientToken";
    default:
      return path.startsWith("/state/") && path.indexOf("/", 7) === -1
        ? "State contains an invalid node"
        : `Invalid node ${path}: ${reason}`;
  }
};

/** AWS IoT error code and message for an engine error. */
export const awsError = (error: ShadowError): { code: number; message: string } => {
  switch (error._tag) {
    case "InvalidJson":
      return { code: 400, message: "Invalid JSON" };
    case "InvalidEncoding":
      return { code: 415, message: "Unsupported documented encoding; supported encoding is UTF-8" };
    case "PayloadTooLarge":
    case "DocumentTooLarge":
      return { code: 413, message: "The payload exceeds the maximum size allowed" };
    case "DepthExceeded":
      return {
        code: 400,
        message: `JSON contains too many levels of nesting; maximum is ${error.limit}`,
      };
    case "StateMissing":
      return { code: 400, message: "Missing required node: state" };
    case "DesiredReportedMissing":
      return { code: 400, message: "State node must contain desired or reported" };
    case "InvalidParameter":
      return { code: 400, message: invalidNodeMessage(error.path, error.reason) };
    case "InvalidVersion":
      return { code: 400, message: "Invalid version" };
    case "VersionConflict":
    case "VersionNotNewer":
      return { code: 409, message: "Version conflict" };
    case "ShadowNotFound":
      return { code: 404, message: "No shadow exists" };
    case "ShadowExists":
      return { code: 409, message: "Shadow already exists" };
    case "FunctionNotFound":
      return { code: 404, message: `No function call ${error.requestId}` };
    case "TooManyProperties":
    case "TwinNotConformant":
    case "TwinPatchInvalid":
      return { code: 400, message: "Bad Request" };
    case "QueueFull":
      return { code: 429, message: "Too many requests" };
    case "Unspecified":
      return { code: 500, message: "Internal service failure" };
  }
};

/** `…/rejected` payload. */
export const renderAwsError = (error: ShadowError, timestampMs: number, options?: AwsOptions) => ({
  ...awsError(error),
  timestamp: seconds(timestampMs),
  ...token(options),
});

/** `…/get/accepted`: desired, reported, and the delta when there is one. */
export const renderAwsGetAccepted = (doc: ShadowDocument, nowMs: number, options?: AwsOptions) => {
  const { state, metadata } = nonEmptySections(doc);
  const delta = computeDelta(doc.desired, doc.reported);
  return {
    state: delta === undefined ? state : { ...state, delta },
    metadata,
    version: doc.version,
    timestamp: seconds(nowMs),
    ...token(options),
  };
};

/** `…/update/accepted`: the request's state echoed with the metadata of what it wrote. */
export const renderAwsUpdateAccepted = (
  result: Pick<WriteResult, "applied" | "timestamp"> & {
    readonly doc: Pick<ShadowDocument, "version">;
  },
  options?: AwsOptions,
) => {
  const ts = seconds(result.timestamp);
  return {
    state: result.applied,
    metadata: appliedTimestamps(result.applied, ts),
    version: result.doc.version,
    timestamp: ts,
    ...token(options),
  };
};

/**
 * `…/update/delta`; `undefined` when desired and reported agree. Takes a write's result
 * or what an event keeps of it (the delta's own desired metadata will do).
 */
export const renderAwsDelta = (
  result: Pick<WriteResult, "delta" | "timestamp"> & {
    readonly doc: Pick<ShadowDocument, "version"> & {
      readonly metadata: { readonly desired: MetadataTree };
    };
  },
  options?: AwsOptions,
) => {
  if (result.delta === undefined) return undefined;
  return {
    version: result.doc.version,
    timestamp: seconds(result.timestamp),
    state: result.delta,
    metadata: timestampTree(result.delta, result.doc.metadata.desired),
    ...token(options),
  };
};

const snapshot = (doc: ShadowDocument) => ({ ...nonEmptySections(doc), version: doc.version });

/** `…/update/documents`: the whole shadow before and after the write. */
export const renderAwsDocuments = (
  result: Pick<WriteResult, "previous" | "doc" | "timestamp">,
  options?: AwsOptions,
) => ({
  previous: snapshot(result.previous),
  current: snapshot(result.doc),
  timestamp: seconds(result.timestamp),
  ...token(options),
});

/** `…/delete/accepted`. */
export const renderAwsDeleteAccepted = (
  version: number,
  timestampMs: number,
  options?: AwsOptions,
) => ({ version, timestamp: seconds(timestampMs), ...token(options) });

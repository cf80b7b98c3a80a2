/**
 * Every way a request can be refused, as tagged plain objects (no stack capture: a
 * rejected request is ordinary traffic on the hot path). Each dialect maps a tag to
 * its own code in `views/*`; `describeError` gives the clear message for logs and APIs.
 * The `_tag` field lets Effect code handle them with `catchTag`.
 */
export type ShadowError =
  | InvalidJson
  | InvalidEncoding
  | PayloadTooLarge
  | DocumentTooLarge
  | DepthExceeded
  | StateMissing
  | DesiredReportedMissing
  | InvalidParameter
  | InvalidVersion
  | VersionConflict
  | VersionNotNewer
  | ShadowExists
  | ShadowNotFound
  | TwinNotConformant
  | TwinPatchInvalid
  | TooManyProperties
  | FunctionNotFound
  | QueueFull
  | Unspecified;

export interface InvalidJson {
  readonly _tag: "InvalidJson";
  readonly detail: string;
}
export interface InvalidEncoding {
  readonly _tag: "InvalidEncoding";
}
export interface PayloadTooLarge {
  readonly _tag: "PayloadTooLarge";
  readonly size: number;
  readonly limit: number;
}
export interface DocumentTooLarge {
  readonly _tag: "DocumentTooLarge";
  readonly size: number;
  readonly limit: number;
}
export interface DepthExceeded {
  readonly _tag: "DepthExceeded";
  readonly path: string;
  readonly limit: number;
}
export interface StateMissing {
  readonly _tag: "StateMissing";
}
export interface DesiredReportedMissing {
  readonly _tag: "DesiredReportedMissing";
}
export interface InvalidParameter {
  readonly _tag: "InvalidParameter";
  /** JSON Pointer of the offending node, `""` for the request itself. */
  readonly path: string;
  readonly reason: string;
}
export interface InvalidVersion {
  readonly _tag: "InvalidVersion";
  readonly reason: string;
}
export interface VersionConflict {
  readonly _tag: "VersionConflict";
  readonly expected: number;
  readonly current: number;
  /** Set when the caller named an epoch (an HTTP ETag) and the shadow was reset since. */
  readonly expectedEpoch?: number;
  readonly currentEpoch?: number;
}
export interface VersionNotNewer {
  readonly _tag: "VersionNotNewer";
  readonly requested: number;
  readonly current: number;
}
export interface ShadowExists {
  readonly _tag: "ShadowExists";
}
export interface ShadowNotFound {
  readonly _tag: "ShadowNotFound";
}
export interface TwinNotConformant {
  readonly _tag: "TwinNotConformant";
  readonly propertyName: string;
  readonly reason: string;
}
export interface TwinPatchInvalid {
  readonly _tag: "TwinPatchInvalid";
  readonly reason: string;
}
export interface TooManyProperties {
  readonly _tag: "TooManyProperties";
  readonly count: number;
  readonly limit: number;
}
export interface FunctionNotFound {
  readonly _tag: "FunctionNotFound";
  readonly requestId: string;
}
export interface QueueFull {
  readonly _tag: "QueueFull";
  readonly pending: number;
  readonly limit: number;
}
export interface Unspecified {
  readonly _tag: "Unspecified";
  readonly detail: string;
}

export const ShadowErrors = {
  invalidJson: (detail: string): InvalidJson => ({ _tag: "InvalidJson", detail }),
  invalidEncoding: (): InvalidEncoding => ({ _tag: "InvalidEncoding" }),
  payloadTooLarge: (size: number, limit: number): PayloadTooLarge => ({
    _tag: "PayloadTooLarge",
    size,
    limit,
  }),
  documentTooLarge: (size: number, limit: number): DocumentTooLarge => ({
    _tag: "DocumentTooLarge",
    size,
    limit,
  }),
  depthExceeded: (path: string, limit: number): DepthExceeded => ({
    _tag: "DepthExceeded",
    path,
    limit,
  }),
  stateMissing: (): StateMissing => ({ _tag: "StateMissing" }),
  desiredReportedMissing: (): DesiredReportedMissing => ({ _tag: "DesiredReportedMissing" }),
  invalidParameter: (path: string, reason: string): InvalidParameter => ({
    _tag: "InvalidParameter",
    path,
    reason,
  }),
  invalidVersion: (reason: string): InvalidVersion => ({ _tag: "InvalidVersion", reason }),
  versionConflict: (
    expected: number,
    current: number,
    epochs?: { readonly expected: number; readonly current: number },
  ): VersionConflict =>
    epochs === undefined
      ? { _tag: "VersionConflict", expected, current }
      : {
          _tag: "VersionConflict",
          expected,
          current,
          expectedEpoch: epochs.expected,
          currentEpoch: epochs.current,
        },
  versionNotNewer: (requested: number, current: number): VersionNotNewer => ({
    _tag: "VersionNotNewer",
    requested,
    current,
  }),
  shadowExists: (): ShadowExists => ({ _tag: "ShadowExists" }),
  shadowNotFound: (): ShadowNotFound => ({ _tag: "ShadowNotFound" }),
  twinNotConformant: (propertyName: string, reason: string): TwinNotConformant => ({
    _tag: "TwinNotConformant",
    propertyName,
    reason,
  }),
  twinPatchInvalid: (reason: string): TwinPatchInvalid => ({ _tag: "TwinPatchInvalid", reason }),
  tooManyProperties: (count: number, limit: number): TooManyProperties => ({
    _tag: "TooManyProperties",
    count,
    limit,
  }),
  functionNotFound: (requestId: string): FunctionNotFound => ({
    _tag: "FunctionNotFound",
    requestId,
  }),
  queueFull: (pending: number, limit: number): QueueFull => ({ _tag: "QueueFull", pending, limit }),
  unspecified: (detail: string): Unspecified => ({ _tag: "Unspecified", detail }),
} as const;

const at = (path: string): string => (path === "" ? "" : ` at ${path}`);

/** A clear, dialect-neutral sentence for logs and API problem documents. */
export const describeError = (error: ShadowError): string => {
  switch (error._tag) {
    case "InvalidJson":
      return `the payload is not valid JSON: ${error.detail}`;
    case "InvalidEncoding":
      return "the payload is not valid UTF-8";
    case "PayloadTooLarge":
      return `the payload is ${error.size} bytes; the limit is ${error.limit}`;
    case "DocumentTooLarge":
      return `the shadow would be ${error.size} bytes of desired+reported; the limit is ${error.limit}`;
    case "DepthExceeded":
      return `the JSON nests deeper than ${error.limit} levels${at(error.path)}`;
    case "StateMissing":
      return 'the request has no "state" object';
    case "DesiredReportedMissing":
      return 'the "state" object has neither "desired" nor "reported"';
    case "InvalidParameter":
      return `invalid parameter${at(error.path)}: ${error.reason}`;
    case "InvalidVersion":
      return `invalid version: ${error.reason}`;
    case "VersionConflict":
      return error.expectedEpoch !== undefined && error.expectedEpoch !== error.currentEpoch
        ? `version conflict: the shadow was reset since (epoch ${error.currentEpoch}, expected ${error.expectedEpoch}); it is at version ${error.current}`
        : `version conflict: expected ${error.expected}, the shadow is at ${error.current}`;
    case "VersionNotNewer":
      return `version ${error.requested} is not newer than the shadow's version ${error.current}`;
    case "ShadowExists":
      return "the shadow already exists";
    case "ShadowNotFound":
      return "the shadow does not exist";
    case "TwinNotConformant":
      return twinNotConformantMessage(error.propertyName);
    case "TwinPatchInvalid":
      return `invalid digital twin patch: ${error.reason}`;
    case "TooManyProperties":
      return `${error.count} properties in one call; the limit is ${error.limit}`;
    case "FunctionNotFound":
      return `no function call with requestId ${error.requestId}`;
    case "QueueFull":
      return `${error.pending} function calls are already waiting for the device; the limit is ${error.limit}`;
    case "Unspecified":
      return error.detail;
  }
};

/** The exact message Azure's digital twin API returns for a non-conformant property (seed 004). */
export const twinNotConformantMessage = (propertyName: string): string =>
  `ErrorCode:ArgumentInvalid;'${propertyName}' exists within the device twin and is not digital twin conformant property. Please refer to aka.ms/dtpatch to update this to be conformant.`;

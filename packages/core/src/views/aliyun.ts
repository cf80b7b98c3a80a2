import type { ShadowDocument } from "../document.js";
import type { ShadowError } from "../errors.js";
import type { JsonObject } from "../json.js";
import { nonEmptySections, seconds } from "./common.js";

/** Alibaba Cloud shadow error codes (its device shadow reference; wording ours). */
export const ALIYUN_ERROR_MESSAGES = {
  400: "incorrect JSON format",
  401: "method is missing",
  402: "state is missing",
  403: "version is not a number",
  404: "reported is missing",
  405: "reported is empty",
  406: "method is not valid",
  407: "shadow is empty",
  408: "reported has more than 128 properties",
  409: "version conflict",
  500: "server error",
} as const;

export type AliyunErrorCode = keyof typeof ALIYUN_ERROR_MESSAGES;

export const aliyunErrorCode = (error: ShadowError): AliyunErrorCode => {
  switch (error._tag) {
    case "StateMissing":
      return 402;
    case "InvalidVersion":
      return 403;
    case "DesiredReportedMissing":
      return 404;
    case "ShadowNotFound":
      return 407;
    case "TooManyProperties":
      return 408;
    case "VersionConflict":
    case "VersionNotNewer":
      return 409;
    case "Unspecified":
      return 500;
    default:
      return 400;
  }
};

const lastUpdatedSeconds = (doc: ShadowDocument): number => seconds(Date.parse(doc.lastUpdated));

export interface AliyunDocument {
  readonly state: JsonObject;
  readonly metadata: JsonObject;
  readonly timestamp: number;
  readonly version: number;
}

/** The shadow document in Alibaba's format (seed 002): metadata timestamps in seconds. */
export const renderAliyunDocument = (doc: ShadowDocument): AliyunDocument => ({
  ...nonEmptySections(doc),
  timestamp: lastUpdatedSeconds(doc),
  version: doc.version,
});

/** `/shadow/get/{pk}/{dn}` reply to an accepted update or delete. */
export const renderAliyunReply = (version: number, timestampMs: number) => ({
  method: "reply" as const,
  payload: { status: "success" as const, version },
  timestamp: seconds(timestampMs),
});

/** `/shadow/get/{pk}/{dn}` reply to a refused request. */
export const renderAliyunError = (error: ShadowError, timestampMs: number) => {
  const code = aliyunErrorCode(error);
  return {
    method: "reply" as const,
    payload: {
      status: "error" as const,
      content: { errorcode: String(code), errormessage: ALIYUN_ERROR_MESSAGES[code] },
    },
    timestamp: seconds(timestampMs),
  };
};

/** `/shadow/get/{pk}/{dn}` control message: the document pushed to the device (get, desired change). */
export const renderAliyunControl = (doc: ShadowDocument, timestampMs: number) => ({
  method: "control" as const,
  payload: { status: "success" as const, ...nonEmptySections(doc) },
  version: doc.version,
  timestamp: seconds(timestampMs),
});

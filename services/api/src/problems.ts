import { describeError, type ShadowError } from "@umbra/core";

/** An RFC 9457 problem document: every error the API answers is one. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** Extra members some problems carry (the shadow's current version on a 412). */
  readonly [extension: string]: unknown;
}

/**
 * Problem types: `urn:umbra:problem:<slug>`, each with its status and title. The
 * `gateway-*` types are a call's outcomes, whether the call went through a gateway for
 * its sub-device (seed 003) or to a device itself (thing model): one set for both, so a
 * client handles them alike.
 */
export const PROBLEMS = {
  "bad-request": [400, "The request is not valid"],
  "bad-json": [400, "The body is not valid JSON"],
  "twin-not-conformant": [400, "The digital twin patch is not conformant"],
  unauthorized: [401, "An API key is required"],
  forbidden: [403, "The API key does not cover this product"],
  "not-found": [404, "No such resource"],
  "unknown-product": [404, "No such product"],
  "unknown-device": [404, "No such device"],
  "shadow-not-found": [404, "The device has no shadow"],
  "function-not-found": [404, "No such function call"],
  "not-sub-device": [404, "The device is not a sub-device of this gateway"],
  "certificate-not-found": [404, "The device has no such certificate"],
  "method-not-allowed": [405, "Method not allowed"],
  "request-timeout": [408, "The request was not received in time"],
  conflict: [409, "Conflict"],
  "gateway-offline": [409, "The gateway or device cannot take the call"],
  "version-mismatch": [412, "The shadow is not at the expected version"],
  "too-large": [413, "The body is too large"],
  "unsupported-media-type": [415, "Unsupported content type"],
  "rate-limited": [429, "Too many requests"],
  "headers-too-large": [431, "The request headers are too large"],
  internal: [500, "Internal error"],
  "gateway-error": [502, "The gateway or device answered with an error"],
  "gateway-bad-reply": [502, "The gateway's or device's reply is not valid"],
  "cluster-unavailable": [503, "The cluster is unavailable"],
  "gateway-timeout": [504, "The gateway or device did not answer in time"],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemKind = keyof typeof PROBLEMS;

export const problemType = (kind: ProblemKind): string => `urn:umbra:problem:${kind}`;

export const problem = (
  kind: ProblemKind,
  detail: string,
  extensions: Record<string, unknown> = {},
): Problem => {
  const [status, title] = PROBLEMS[kind];
  return { type: problemType(kind), title, status, detail, ...extensions };
};

/** Thrown by handlers and the request pipeline; answered as its problem document. */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly problem: Problem;
  readonly headers: Record<string, string>;

  constructor(problem: Problem, headers: Record<string, string> = {}) {
    super(problem.detail);
    this.problem = problem;
    this.headers = headers;
  }
}

export const fail = (
  kind: ProblemKind,
  detail: string,
  extensions?: Record<string, unknown>,
): never => {
  throw new ProblemError(problem(kind, detail, extensions));
};

/** The problem for an engine error a shard answered with. */
export const shadowProblem = (error: ShadowError): Problem => {
  const detail = describeError(error);
  switch (error._tag) {
    case "InvalidJson":
    case "InvalidEncoding":
      return problem("bad-json", detail);
    case "PayloadTooLarge":
    case "DocumentTooLarge":
      return problem("too-large", detail);
    case "VersionConflict":
      return problem("version-mismatch", detail, { currentVersion: error.current });
    case "VersionNotNewer":
      return problem("conflict", detail, { currentVersion: error.current });
    case "ShadowNotFound":
      return problem("shadow-not-found", detail);
    case "ShadowExists":
      return problem("conflict", detail);
    case "TwinNotConformant":
      return problem("twin-not-conformant", detail, { propertyName: error.propertyName });
    case "QueueFull":
      return problem("rate-limited", detail);
    case "FunctionNotFound":
      return problem("function-not-found", detail);
    case "Unspecified":
      // The shard could not read or write storage, or writers kept racing.
      return problem("cluster-unavailable", detail);
    default:
      return problem("bad-request", detail);
  }
};

/** The message of something thrown, for a log line or a problem's detail. */
export { messageOf } from "@umbra/runtime";

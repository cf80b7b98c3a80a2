import type { JsonObject, MetadataTree, ShadowDocument, ShadowError } from "@umbra/core";

/**
 * The words every service shares about a command and its outcome. They live with the
 * dialects because rendering an outcome is a dialect's job; `@umbra/bus` re-exports
 * them with the frames that carry them.
 */

/** The device dialects Umbra speaks (one folder each under `src/`). */
export type DialectName = "onenet" | "aliyun" | "aws" | "azure";

/**
 * `update` / `get` come from devices and cloud callers alike; `delete` (the whole shadow),
 * `twin` (a digital twin JSON Patch, seed 004) and `function` (queue a function call or
 * check calls' deadlines, seed 001) only from cloud callers. A cloud caller's payload
 * may carry `"version"`: the version the shadow must be at (If-Match), with `"epoch"`, the
 * reset epoch it must be in (the version alone repeats after a reset). `sync`: a device
 * subscribed to its deltas; the reply sends what desired still asks. `request`: a device
 * dialect whose payload names the operation (Alibaba's `method`); the shard's dialect
 * reader settles it.
 */
export type CommandOp = "update" | "get" | "delete" | "twin" | "function" | "sync" | "request";

/** What the shard publishes for every command it processed. */
export type ShadowEvent = AcceptedEvent | RejectedEvent | DocumentEvent;

interface EventBase {
  readonly device: string;
  /** The device dialect it came in through; none for a cloud caller's (`source: "cloud"`). */
  readonly dialect?: DialectName | undefined;
  readonly source: "device" | "cloud";
  readonly op: CommandOp;
  /** A device's own request: the inbox of the edge it came through, where answers go. */
  readonly origin?: string | undefined;
  /**
   * The correlation token of the request (AWS `clientToken`, at most 64 bytes), which
   * the answers and the delta / documents it causes echo. The shard copies it from the
   * dialect's reading of the payload (`DeviceCommand`, or `CommandRefusal` for a refusal).
   */
  readonly clientToken?: string | undefined;
  /**
   * A named shadow (AWS), from the command's header; `undefined`: the device's classic
   * shadow. Events of a named shadow are rendered for AWS only.
   */
  readonly shadow?: string | undefined;
}

/** An accepted write. `delta` (with its desired-side metadata) when desired ≠ reported after it. */
export interface AcceptedEvent extends EventBase {
  readonly kind: "accepted";
  readonly version: number;
  /** ms */
  readonly timestamp: number;
  readonly applied: { readonly desired?: JsonObject | null; readonly reported?: JsonObject | null };
  readonly delta: JsonObject | undefined;
  readonly deltaMetadata: MetadataTree | undefined;
  /**
   * The whole document after a write that changed desired: dialects whose push carries
   * the document (Alibaba `control`) render it from this. Absent otherwise, so device
   * reports (the hot path) carry no more than before — unless `previous` is set.
   */
  readonly document?: ShadowDocument | undefined;
  /**
   * The whole document before the write, with `document` after it: AWS
   * `update/documents` needs both. Set (not on deletes) by an actor that knows an AWS
   * session may listen — it took an `aws` command (a `sync` on subscribe included)
   * since it was loaded — and on every write of a named shadow.
   */
  readonly previous?: ShadowDocument | undefined;
  /**
   * `true` when `document` is there only for `previous` (AWS): the write left desired as
   * it was, so what a change of desired causes (Alibaba `control`, pushes to the other
   * dialects after a device's write) is not due.
   */
  readonly desiredUnchanged?: true | undefined;
  /**
   * An AWS session of the device may listen (the actor took an `aws` command since it was
   * loaded): AWS tells every subscriber of every accepted update (`update/accepted`), so
   * a report that left desired alone is pushed to AWS too. Cheap, unlike `previous`,
   * which only a subscriber of `update/documents` makes the actor carry.
   */
  readonly awsListens?: true | undefined;
}

export interface RejectedEvent extends EventBase {
  readonly kind: "rejected";
  readonly error: ShadowError;
  /** The dialect's own code, when its reader refused the request before the engine ran. */
  readonly code?: number | undefined;
}

/** A read: the whole document at `timestamp` (ms). */
export interface DocumentEvent extends EventBase {
  readonly kind: "document";
  readonly document: ShadowDocument;
  readonly timestamp: number;
  /** The properties the read asked for (`DeviceCommand` get's `select`), if it named any. */
  readonly select?: readonly string[] | undefined;
}

/** A message to deliver to a device whose payload is still text (rendered JSON). */
export interface OutboundText {
  readonly topic: string;
  readonly body: string;
}

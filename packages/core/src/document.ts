import { isObject, type JsonObject, type JsonValue } from "./json.js";

/** Who wrote a value: the device itself or the cloud (an application, the API). */
export type Source = "device" | "cloud";
export type Quality = "good" | "bad" | "uncertain";

/** Metadata of one leaf (seed 001): when and at which version it was written, by whom. */
export interface LeafMetadata {
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly version: number;
  readonly source: Source;
  readonly quality: Quality;
}

/**
 * Mirrors the shape of `desired` / `reported`: an object in the state has a
 * `MetadataTree` at the same path, a leaf (primitive or array) has a `LeafMetadata`.
 * The shapes always match, so which is which is read from the state, never guessed.
 */
export interface MetadataTree {
  readonly [key: string]: LeafMetadata | MetadataTree;
}

export type SyncStatus = "synced" | "pending" | "failed";

/** Delivery of `desired` to the device (seed 001 `metadata.sync`). */
export interface SyncMetadata {
  readonly lastSyncTime: number;
  readonly status: SyncStatus;
  readonly lastError: string;
  readonly retryCount: number;
  readonly nextSyncTime: number;
}

/** What a device acknowledged for a writable digital twin property (seed 004). */
export interface TwinAck {
  readonly code: number;
  readonly version: number;
  readonly description?: string;
  readonly timestamp: number;
}

/** Digital twin bookkeeping; absent until a twin operation needs it. */
export interface TwinMetadata {
  readonly model?: string;
  /** Top-level names that are components (set by component-level patches). */
  readonly components?: readonly string[];
  /** Device acks keyed by the JSON Pointer of the property. */
  readonly acks?: { readonly [pointer: string]: TwinAck };
  /**
   * Azure's per-section `$version`s (see `sectionVersionsOf`): the version of the last
   * write that changed desired, and of the last that changed reported. Kept from a
   * shadow's first Plug and Play write (`WriteContext.trackSections`) on, by every write.
   */
  readonly sections?: SectionVersions;
}

/** What `$version` each section of the twin shows (Azure IoT Hub, DIALECTS.md §2.2). */
export interface SectionVersions {
  readonly desired: number;
  readonly reported: number;
}

/**
 * The section versions of a document: those it keeps, or — for a shadow no Plug and
 * Play write has touched yet — its version for both (never less than what either
 * section's last change was, so a device shown this is never shown less later).
 */
export const sectionVersionsOf = (doc: {
  readonly version: number;
  readonly metadata: { readonly twin?: { readonly sections?: SectionVersions } };
}): SectionVersions =>
  doc.metadata.twin?.sections ?? { desired: doc.version, reported: doc.version };

export interface ShadowMetadata {
  readonly reported: MetadataTree;
  readonly desired: MetadataTree;
  readonly sync: SyncMetadata;
  readonly twin?: TwinMetadata;
}

export type FunctionStatus = "pending" | "completed" | "failed" | "timeout";

/** One remote function call (seed 001), kept in order in `ShadowDocument.functions`. */
export interface FunctionCall {
  readonly requestId: string;
  readonly funcKey: string;
  readonly params: JsonObject;
  /** When the call was made, ms. */
  readonly timestamp: number;
  readonly status: FunctionStatus;
  /** When it entered the queue, ms. */
  readonly queuedAt: number;
  /** Whether the device was online when the call was made. */
  readonly isOnline: boolean;
  /** When a pending call turns into `timeout`, ms. */
  readonly deadline: number;
  /** When it completed, failed or timed out, ms. */
  readonly finishedAt?: number;
  /** The device's `result` (completed or failed). */
  readonly result?: JsonValue;
  /**
   * How long the call stays after it finished, ms: the retention in force where it was
   * made. Absent: the clean-up's own (`DEFAULT_FUNCTION_RETENTION_MS` unless given).
   */
  readonly retentionMs?: number;
}

/** The canonical shadow document (seed 001). Every dialect's format is a view of it. */
export interface ShadowDocument {
  readonly deviceKey: string;
  readonly productKey: string;
  readonly version: number;
  readonly reported: JsonObject;
  readonly desired: JsonObject;
  readonly metadata: ShadowMetadata;
  /** ISO-8601 UTC time of the last accepted write, to the second (`2023-12-01T10:30:00Z`). */
  readonly lastUpdated: string;
  /** Function calls, oldest first: the queue and the finished calls not yet cleaned up. */
  readonly functions?: readonly FunctionCall[];
  /**
   * How many times `version` was reset to 0 (Alibaba `"version": -1`); absent until the
   * first reset. A version alone can repeat after a reset; the pair (epoch, version)
   * never repeats in a shadow's life, so whatever must not match across a reset (the
   * API's ETag) names both.
   */
  readonly epoch?: number;
}

/** The shadow's reset epoch: 0 until its version was first reset. */
export const epochOf = (doc: ShadowDocument): number => doc.epoch ?? 0;

/** `desired` key through which a function call reaches the device. */
export const FUNCTION_KEY = "_function";
/** `reported` key through which the device answers a function call. */
export const FUNCTION_RESULT_KEY = "_function_result";

/**
 * The function-call keys hold objects that are single values: replaced whole by a
 * write, compared whole, stamped with one metadata leaf.
 */
export const isAtomicKey = (key: string): boolean =>
  key === FUNCTION_KEY || key === FUNCTION_RESULT_KEY;

/** Whether `value`, under `key`, is a subtree of the state (else a leaf). */
export const isSubtree = (key: string, value: unknown): value is JsonObject =>
  isObject(value) && !isAtomicKey(key);

let lastSecond = Number.NaN;
let lastIso = "";

/** ISO-8601 to the second, as seed 001 writes `lastUpdated`. */
export const isoSeconds = (ms: number): string => {
  // Every write formats its time; consecutive writes mostly fall in the same second.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastIso = `${new Date(second * 1000).toISOString().slice(0, 19)}Z`;
    lastSecond = second;
  }
  return lastIso;
};

/** A new, empty shadow at version 0. */
export const createShadow = (
  productKey: string,
  deviceKey: string,
  now: number,
): ShadowDocument => ({
  deviceKey,
  productKey,
  version: 0,
  reported: {},
  desired: {},
  metadata: {
    reported: {},
    desired: {},
    sync: { lastSyncTime: now, status: "synced", lastError: "", retryCount: 0, nextSyncTime: now },
  },
  lastUpdated: isoSeconds(now),
});

/**
 * Checks that an untrusted value (read back from storage, say) has the shape of a
 * shadow document. Returns the reason it does not, or `undefined` when it does.
 */
export const shadowDocumentProblem = (value: unknown): string | undefined => {
  if (!isObject(value)) return "not an object";
  const v = value as Record<string, unknown>;
  if (typeof v.deviceKey !== "string") return "deviceKey is not a string";
  if (typeof v.productKey !== "string") return "productKey is not a string";
  if (typeof v.version !== "number" || !Number.isSafeInteger(v.version) || v.version < 0)
    return "version is not a non-negative integer";
  if (!isObject(v.reported)) return "reported is not an object";
  if (!isObject(v.desired)) return "desired is not an object";
  if (typeof v.lastUpdated !== "string") return "lastUpdated is not a string";
  const metadata = v.metadata;
  if (!isObject(metadata)) return "metadata is not an object";
  const m = metadata as Record<string, unknown>;
  if (!isObject(m.reported) || !isObject(m.desired)) return "metadata.reported/desired missing";
  if (!isObject(m.sync)) return "metadata.sync missing";
  if (v.functions !== undefined && !Array.isArray(v.functions)) return "functions is not an array";
  if (
    v.epoch !== undefined &&
    (typeof v.epoch !== "number" || !Number.isSafeInteger(v.epoch) || v.epoch < 1)
  )
    return "epoch is not a positive integer";
  return undefined;
};

import type { ShadowDocument, SyncMetadata } from "./document.js";
import type { JsonObject } from "./json.js";

/*
 * Seed 001's `metadata.sync`: when desired was last delivered, and when to deliver it
 * next. Every write recomputes it (`nextSync`); delivery outcomes record it.
 */

export const DEFAULT_SYNC_INTERVAL_MS = 5_000;

export const synced = (now: number, interval: number): SyncMetadata => ({
  lastSyncTime: now,
  status: "synced",
  lastError: "",
  retryCount: 0,
  nextSyncTime: now + interval,
});

export const nextSync = (
  sync: SyncMetadata,
  delta: JsonObject | undefined,
  desiredSetByCloud: boolean,
  now: number,
  interval: number,
): SyncMetadata => {
  // Nothing left to deliver: the device has what the cloud wants.
  if (delta === undefined) return synced(now, interval);
  // New desired from the cloud: deliver it as soon as possible (if not already due).
  if (desiredSetByCloud && sync.status !== "pending")
    return {
      lastSyncTime: sync.lastSyncTime,
      status: "pending",
      lastError: sync.lastError,
      retryCount: sync.retryCount,
      nextSyncTime: now,
    };
  return sync;
};

/**
 * Records that desired was delivered to the device (seed 001 `metadata.sync`). Sync
 * bookkeeping is not a write of state: the version does not change.
 */
export const markSynced = (
  doc: ShadowDocument,
  now: number,
  intervalMs: number = DEFAULT_SYNC_INTERVAL_MS,
): ShadowDocument => ({ ...doc, metadata: { ...doc.metadata, sync: synced(now, intervalMs) } });

/** Records a failed delivery and when to try again. */
export const markSyncFailed = (
  doc: ShadowDocument,
  reason: string,
  now: number,
  retryDelayMs: number,
): ShadowDocument => {
  const sync = doc.metadata.sync;
  return {
    ...doc,
    metadata: {
      ...doc.metadata,
      sync: {
        lastSyncTime: sync.lastSyncTime,
        status: "failed",
        lastError: reason,
        retryCount: sync.retryCount + 1,
        nextSyncTime: now + retryDelayMs,
      },
    },
  };
};

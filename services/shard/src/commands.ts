import type { CommandHeader, ShadowEvent } from "@umbra/bus";
import {
  applyUpdate,
  createShadow,
  type Limits,
  metadataOf,
  parseUpdatePayload,
  type ShadowDocument,
  ShadowErrors,
} from "@umbra/core";
import type { DeviceId } from "@umbra/dialects";

/** What one command did to a document: the new document (if it changed) and the event. */
export interface CommandOutcome {
  readonly doc: ShadowDocument | undefined;
  readonly changed: boolean;
  readonly event: ShadowEvent;
}

/**
 * Runs one command against the document as it stands (pure: the clock is an argument,
 * nothing is written). `doc` undefined means the device has no shadow yet: a write
 * creates it, a read is refused with "device image not exists".
 */
export const runCommand = (
  doc: ShadowDocument | undefined,
  device: DeviceId,
  header: CommandHeader,
  payload: Uint8Array,
  now: number,
  limits: Limits,
): CommandOutcome => {
  const base = {
    device: header.device,
    dialect: header.dialect,
    source: header.source,
    op: header.op,
  } as const;
  switch (header.op) {
    case "get":
      if (doc === undefined)
        return {
          doc,
          changed: false,
          event: { ...base, kind: "rejected", error: ShadowErrors.shadowNotFound() },
        };
      return {
        doc,
        changed: false,
        event: { ...base, kind: "document", document: doc, timestamp: now },
      };
    case "update": {
      const patch = parseUpdatePayload(payload, limits);
      if (!patch.ok)
        return { doc, changed: false, event: { ...base, kind: "rejected", error: patch.error } };
      const current = doc ?? createShadow(device.productId, device.deviceName, now);
      const result = applyUpdate(
        current,
        { desired: patch.value.desired, reported: patch.value.reported, source: header.source },
        { now, limits },
      );
      if (!result.ok)
        return { doc, changed: false, event: { ...base, kind: "rejected", error: result.error } };
      const { delta } = result.value;
      const written = result.value.doc;
      return {
        doc: written,
        changed: true,
        event:
          delta === undefined
            ? {
                ...base,
                kind: "accepted",
                version: written.version,
                timestamp: result.value.timestamp,
                applied: result.value.applied,
              }
            : {
                ...base,
                kind: "accepted",
                version: written.version,
                timestamp: result.value.timestamp,
                applied: result.value.applied,
                delta,
                deltaMetadata: metadataOf(delta, written.metadata.desired),
              },
      };
    }
    default:
      return {
        doc,
        changed: false,
        event: {
          ...base,
          kind: "rejected",
          error: ShadowErrors.invalidParameter("/op", `unknown operation '${String(header.op)}'`),
        },
      };
  }
};

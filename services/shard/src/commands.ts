import type { CommandHeader, RejectedEvent, ShadowEvent } from "@umbra/bus";
import {
  applyUpdate,
  createShadow,
  type Limits,
  metadataOf,
  parseUpdatePayload,
  type ShadowDocument,
  type ShadowError,
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
 * creates it, a read is refused with "device image not exists". `origin` is the inbox
 * of the edge a device's own request came through; its event carries it.
 */
export const runCommand = (
  doc: ShadowDocument | undefined,
  device: DeviceId,
  header: CommandHeader,
  payload: Uint8Array,
  now: number,
  limits: Limits,
  origin?: string,
): CommandOutcome => {
  switch (header.op) {
    case "get":
      if (doc === undefined)
        return {
          doc,
          changed: false,
          event: rejected(header, ShadowErrors.shadowNotFound(), origin),
        };
      return {
        doc,
        changed: false,
        event: {
          kind: "document",
          device: header.device,
          dialect: header.dialect,
          source: header.source,
          op: header.op,
          origin,
          document: doc,
          timestamp: now,
        },
      };
    case "update": {
      const patch = parseUpdatePayload(payload, limits);
      if (!patch.ok) return { doc, changed: false, event: rejected(header, patch.error, origin) };
      const current = doc ?? createShadow(device.productId, device.deviceName, now);
      const result = applyUpdate(
        current,
        { desired: patch.value.desired, reported: patch.value.reported, source: header.source },
        { now, limits },
      );
      if (!result.ok) return { doc, changed: false, event: rejected(header, result.error, origin) };
      const { delta, applied, timestamp } = result.value;
      const written = result.value.doc;
      // One literal with every key (undefined when absent): building events by
      // spreading a base object measured as 5 % of a busy shard.
      return {
        doc: written,
        changed: true,
        event: {
          kind: "accepted",
          device: header.device,
          dialect: header.dialect,
          source: header.source,
          op: header.op,
          origin,
          version: written.version,
          timestamp,
          applied,
          delta,
          deltaMetadata:
            delta === undefined ? undefined : metadataOf(delta, written.metadata.desired),
        },
      };
    }
    default:
      return {
        doc,
        changed: false,
        event: rejected(
          header,
          ShadowErrors.invalidParameter("/op", `unknown operation '${String(header.op)}'`),
          origin,
        ),
      };
  }
};

const rejected = (
  header: CommandHeader,
  error: ShadowError,
  origin: string | undefined,
): RejectedEvent => ({
  kind: "rejected",
  device: header.device,
  dialect: header.dialect,
  source: header.source,
  op: header.op,
  origin,
  error,
});

import type { AcceptedEvent, CommandHeader, RejectedEvent, ShadowEvent } from "@umbra/bus";
import {
  applyTwinPatch,
  applyTwinReported,
  applyUpdate,
  createShadow,
  isObject,
  type Limits,
  metadataOf,
  parseJsonPayload,
  parseUpdatePayload,
  readStatePatch,
  type ShadowDocument,
  type ShadowError,
  ShadowErrors,
  type VersionRule,
  type WriteResult,
} from "@umbra/core";
import type { DeviceId } from "@umbra/dialects";

/** What one command did to a document: the new document (if it changed) and the event. */
export interface CommandOutcome {
  readonly doc: ShadowDocument | undefined;
  readonly changed: boolean;
  readonly event: ShadowEvent;
}

/**
 * A deleted shadow as stored: an empty document marked `deleted`, at the version after
 * the last one. Reads find no shadow; the next write starts an empty shadow that goes on
 * from that version, so an ETag taken before the delete never matches what comes after.
 * (The actor stores what `runCommand` returns; removing the record instead is the
 * store's `delete`, once the actor calls it for a deleting outcome.)
 */
export type Tombstone = ShadowDocument & { readonly deleted: true };

export const isTombstone = (doc: ShadowDocument | undefined): doc is Tombstone =>
  doc !== undefined && (doc as Partial<Tombstone>).deleted === true;

/** The live document, or `undefined` when there is none (never stored, or deleted). */
const live = (doc: ShadowDocument | undefined): ShadowDocument | undefined =>
  isTombstone(doc) ? undefined : doc;

/** The document a write starts from: the live one, or an empty one after any tombstone. */
const base = (doc: ShadowDocument | undefined, device: DeviceId, now: number): ShadowDocument => {
  if (doc !== undefined && !isTombstone(doc)) return doc;
  const fresh = createShadow(device.productId, device.deviceName, now);
  return doc === undefined ? fresh : { ...fresh, version: doc.version };
};

/** A cloud caller's `"version"`: the version the shadow must be at (If-Match). */
const expectedVersion = (
  header: CommandHeader,
  body: unknown,
): VersionRule | ShadowError | undefined => {
  if (header.source !== "cloud" || !isObject(body) || body.version === undefined) return undefined;
  const version = body.version;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0)
    return ShadowErrors.invalidVersion("the expected version must be a non-negative integer");
  return { kind: "expected", version };
};

const isRule = (value: VersionRule | ShadowError | undefined): value is VersionRule =>
  value !== undefined && "kind" in value;

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
    case "get": {
      const current = live(doc);
      if (current === undefined)
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
          document: current,
          timestamp: now,
        },
      };
    }
    case "update": {
      let desired: WriteResult["applied"]["desired"];
      let reported: WriteResult["applied"]["reported"];
      let version: VersionRule | undefined;
      if (header.source === "cloud") {
        // A cloud caller may add "version" next to "state": read the payload once.
        const body = parseJsonPayload(payload, limits);
        if (!body.ok) return { doc, changed: false, event: rejected(header, body.error, origin) };
        const patch = readStatePatch(body.value);
        if (!patch.ok) return { doc, changed: false, event: rejected(header, patch.error, origin) };
        const rule = expectedVersion(header, body.value);
        if (rule !== undefined && !isRule(rule))
          return { doc, changed: false, event: rejected(header, rule, origin) };
        desired = patch.value.desired;
        reported = patch.value.reported;
        version = rule;
      } else {
        const patch = parseUpdatePayload(payload, limits);
        if (!patch.ok) return { doc, changed: false, event: rejected(header, patch.error, origin) };
        desired = patch.value.desired;
        reported = patch.value.reported;
      }
      const start = base(doc, device, now);
      // A device whose shadow has a digital twin reports in the Plug and Play
      // convention: writable-property acks {"value","ac","av","ad"} feed the twin's $metadata.
      const result =
        header.source === "device" &&
        desired === undefined &&
        reported !== null &&
        reported !== undefined &&
        start.metadata.twin !== undefined
          ? applyTwinReported(start, reported, { now, limits })
          : applyUpdate(
              start,
              version === undefined
                ? { desired, reported, source: header.source }
                : { desired, reported, source: header.source, version },
              { now, limits },
            );
      if (!result.ok) return { doc, changed: false, event: rejected(header, result.error, origin) };
      return written(header, result.value, origin);
    }
    case "twin": {
      const body = parseJsonPayload(payload, limits);
      if (!body.ok) return { doc, changed: false, event: rejected(header, body.error, origin) };
      const rule = expectedVersion(header, body.value);
      if (rule !== undefined && !isRule(rule))
        return { doc, changed: false, event: rejected(header, rule, origin) };
      const operations = isObject(body.value) ? body.value.patch : undefined;
      const result = applyTwinPatch(
        base(doc, device, now),
        operations,
        rule === undefined ? { now, limits } : { now, limits, version: rule },
      );
      if (!result.ok) return { doc, changed: false, event: rejected(header, result.error, origin) };
      return written(header, result.value, origin);
    }
    case "delete": {
      const current = live(doc);
      if (current === undefined)
        return {
          doc,
          changed: false,
          event: rejected(header, ShadowErrors.shadowNotFound(), origin),
        };
      let rule: VersionRule | ShadowError | undefined;
      if (payload.length > 0) {
        const body = parseJsonPayload(payload, limits);
        if (!body.ok) return { doc, changed: false, event: rejected(header, body.error, origin) };
        rule = expectedVersion(header, body.value);
      }
      if (rule !== undefined && !isRule(rule))
        return { doc, changed: false, event: rejected(header, rule, origin) };
      if (rule !== undefined && rule.kind === "expected" && rule.version !== current.version)
        return {
          doc,
          changed: false,
          event: rejected(
            header,
            ShadowErrors.versionConflict(rule.version, current.version),
            origin,
          ),
        };
      const tombstone: Tombstone = {
        ...createShadow(device.productId, device.deviceName, now),
        version: current.version + 1,
        deleted: true,
      };
      const event: AcceptedEvent = {
        kind: "accepted",
        device: header.device,
        dialect: header.dialect,
        source: header.source,
        op: header.op,
        origin,
        version: tombstone.version,
        timestamp: now,
        applied: { desired: null, reported: null },
        delta: undefined,
        deltaMetadata: undefined,
      };
      return { doc: tombstone, changed: true, event };
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

/** An accepted write's outcome and event. */
const written = (
  header: CommandHeader,
  result: WriteResult,
  origin: string | undefined,
): CommandOutcome => {
  const { delta, applied, timestamp } = result;
  const doc = result.doc;
  // One literal with every key (undefined when absent): building events by
  // spreading a base object measured as 5 % of a busy shard.
  return {
    doc,
    changed: true,
    event: {
      kind: "accepted",
      device: header.device,
      dialect: header.dialect,
      source: header.source,
      op: header.op,
      origin,
      version: doc.version,
      timestamp,
      applied,
      delta,
      deltaMetadata: delta === undefined ? undefined : metadataOf(delta, doc.metadata.desired),
    },
  };
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

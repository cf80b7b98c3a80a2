import {
  hasOwn,
  type JsonObject,
  type JsonValue,
  metaMax,
  type ShadowDocument,
  type UpdateRequest,
} from "@umbra/core";
import type { ThingDesiredDeleteEntry, ThingProperties } from "./payload.js";

/**
 * What the thing-model requests do to a shadow, as engine requests built from the
 * document the device's actor holds (so nothing comes in between).
 */

/**
 * A property upload (`property/post`, a `pack/post` entry) as the engine's device
 * report: merged into reported, each property's leaves stamped with its `time`. One
 * literal shape: `times` is there only when a value carried one.
 */
export const thingReportedUpdate = (properties: ThingProperties): UpdateRequest =>
  properties.times === undefined
    ? { desired: undefined, reported: properties.reported, source: "device" }
    : {
        desired: undefined,
        reported: properties.reported,
        source: "device",
        times: properties.times,
      };

/**
 * The desired version of `identifier`, `undefined` when it is not desired: the document
 * version of the last write to it (the latest of its leaves' for an object, as the
 * digital twin's `desiredVersion`). It grows with every set of the property, as OneNET's
 * per-property counter does, but counts the shadow's writes rather than the property's
 * own: a device only ever hands back a version it was given.
 */
export const thingDesiredVersionOf = (
  doc: ShadowDocument,
  identifier: string,
): number | undefined =>
  hasOwn(doc.desired, identifier) && hasOwn(doc.metadata.desired, identifier)
    ? (metaMax(identifier, doc.desired[identifier], doc.metadata.desired[identifier], "version") ??
      0)
    : undefined;

/** `desired/get/reply`'s `data`: each asked-for property desired now, with its version. */
export interface ThingDesiredData {
  readonly [identifier: string]: { readonly value: JsonValue; readonly version: number };
}

/**
 * The `data` of `desired/get/reply`: the properties asked for that desired holds, each
 * `{"value","version"}`; the others are left out.
 */
export const thingDesiredData = (
  doc: ShadowDocument,
  identifiers: readonly string[],
): ThingDesiredData => {
  const data: Record<string, { value: JsonValue; version: number }> = {};
  for (const identifier of identifiers) {
    const version = thingDesiredVersionOf(doc, identifier);
    if (version === undefined) continue;
    Object.defineProperty(data, identifier, {
      value: { value: doc.desired[identifier] as JsonValue, version },
      enumerable: true,
      writable: true,
    });
  }
  return data;
};

/** What a desired delete clears, and what it keeps. */
export interface ThingDesiredDeletion {
  /** Clears `cleared` from desired; `undefined` when there is nothing to clear. */
  readonly update: UpdateRequest | undefined;
  readonly cleared: readonly string[];
  /** Named with a version that is not the latest: a newer value was set since. */
  readonly stale: readonly string[];
  /** Not desired at all: nothing to clear. */
  readonly absent: readonly string[];
}

/**
 * `thing/property/desired/delete` on `doc`: each property named without a version, or
 * with its latest (`thingDesiredVersionOf`), is cleared; one named with an older version
 * stays (a newer value was set after the device read it). Per property, as OneNET
 * documents it; the reply is a success either way.
 */
export const thingDesiredDeletion = (
  doc: ShadowDocument,
  entries: readonly ThingDesiredDeleteEntry[],
): ThingDesiredDeletion => {
  const cleared: string[] = [];
  const stale: string[] = [];
  const absent: string[] = [];
  let patch: Record<string, null> | undefined;
  for (const { identifier, version } of entries) {
    const current = thingDesiredVersionOf(doc, identifier);
    if (current === undefined) absent.push(identifier);
    else if (version !== undefined && version !== current) stale.push(identifier);
    else {
      patch ??= {};
      Object.defineProperty(patch, identifier, { value: null, enumerable: true, writable: true });
      cleared.push(identifier);
    }
  }
  return {
    update:
      patch === undefined
        ? undefined
        : { desired: patch as JsonObject, reported: undefined, source: "device" },
    cleared,
    stale,
    absent,
  };
};

/**
 * Azure IoT Plug and Play digital twin operations on the canonical document (seed 004):
 * JSON Patch (RFC 6902 add / replace / remove) setting desired values of components and
 * properties, and device acks `{"value","ac","av","ad"}` for writable properties.
 */
import { diffPatch } from "./delta.js";
import {
  epochOf,
  type ShadowDocument,
  sectionVersionsOf,
  type TwinAck,
  type TwinMetadata,
} from "./document.js";
import { type ShadowError, ShadowErrors } from "./errors.js";
import { hasOwn, isObject, type JsonObject, type JsonValue } from "./json.js";
import { defaultLimits } from "./limits.js";
import { err, ok, type Result } from "./result.js";
import {
  applyUpdate,
  draftOf,
  finishWrite,
  mergeState,
  stampOf,
  type VersionRule,
  type WriteContext,
  type WriteResult,
} from "./update.js";
import { toPointer } from "./validate.js";
import { nextVersion } from "./version.js";

/** Marks a component in reported/desired properties (IoT Plug and Play convention). */
export const COMPONENT_MARKER = "__t";

export interface TwinPatchOperation {
  readonly op: "add" | "replace" | "remove";
  readonly path: string;
  readonly value?: JsonValue;
}

/** DTDL names: 1–64 of `[A-Za-z0-9_]`, starting with a letter, not ending with `_`. */
export const isDtdlName = (name: string): boolean =>
  name.length >= 1 && name.length <= 64 && /^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$/.test(name);

/** Whether a top-level name of the document is a component. */
export const isComponent = (doc: ShadowDocument, name: string): boolean => {
  if (doc.metadata.twin?.components?.includes(name)) return true;
  for (const section of [doc.desired, doc.reported]) {
    const value = hasOwn(section, name) ? section[name] : undefined;
    if (isObject(value) && value[COMPONENT_MARKER] === "c") return true;
  }
  return false;
};

/** RFC 6901 pointer to segments; `undefined` when it is not a pointer into the twin. */
const parsePointer = (path: unknown): string[] | undefined => {
  if (typeof path !== "string" || !path.startsWith("/") || path.length < 2) return undefined;
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
};

/** Seed 004's value rules: DTDL field names, no arrays, at most `budget` levels of objects. */
const twinValueProblem = (value: JsonValue, budget: number): string | undefined => {
  if (value === null) return "null is not a property value; remove the property instead";
  if (Array.isArray(value)) return "arrays are not supported";
  if (typeof value === "number" && !Number.isFinite(value)) return "numbers must be finite";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
    return undefined;
  if (!isObject(value)) return `${typeof value} is not a JSON value`;
  if (budget <= 0) return "the complex value nests too deeply";
  for (const key in value) {
    if (!isDtdlName(key)) return `'${key}' is not a DTDL name`;
    const problem = twinValueProblem(value[key] as JsonValue, budget - 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
};

const valueAt = (object: JsonObject, segments: readonly string[]): JsonValue | undefined => {
  let node: JsonValue | undefined = object;
  for (const s of segments) {
    if (!isObject(node) || !hasOwn(node, s)) return undefined;
    node = node[s];
  }
  return node;
};

/** A merge patch that turns `current` into `next` (`null` for keys `next` drops). */
const replacement = (current: JsonValue | undefined, next: JsonValue): JsonValue => {
  if (!isObject(next) || !isObject(current)) return next;
  const out: Record<string, JsonValue> = {};
  for (const key in current) if (!hasOwn(next, key)) out[key] = null;
  for (const key in next) out[key] = replacement(current[key], next[key] as JsonValue);
  return out;
};

const nest = (segments: readonly string[], leaf: JsonValue): JsonObject => {
  let node: JsonValue = leaf;
  for (let i = segments.length - 1; i >= 0; i--) node = { [segments[i] as string]: node };
  return node as JsonObject;
};

const dropAcks = (acks: Record<string, TwinAck>, pointer: string): void => {
  for (const key of Object.keys(acks))
    if (key === pointer || key.startsWith(`${pointer}/`)) delete acks[key];
};

export interface TwinWriteContext extends WriteContext {
  /** Optimistic concurrency (HTTP If-Match). */
  readonly version?: VersionRule;
}

/**
 * Applies a digital twin JSON Patch as one cloud write to desired. Component-level
 * add / replace need the empty `"$metadata": {}` marker and set every given property
 * while clearing the desired values of those not given; remove clears the desired
 * values (of a property, or of all of a component's). Any rule broken refuses the
 * whole patch with seed 004's message and changes nothing.
 */
export const applyTwinPatch = (
  doc: ShadowDocument,
  operations: unknown,
  ctx: TwinWriteContext,
): Result<WriteResult, ShadowError> => {
  const limits = ctx.limits ?? defaultLimits;
  if (!Array.isArray(operations) || operations.length === 0)
    return err(ShadowErrors.twinPatchInvalid("the patch must be a non-empty array of operations"));
  const components = new Set(doc.metadata.twin?.components ?? []);
  const componentNow = (name: string) => components.has(name) || isComponent(doc, name);
  const acks: Record<string, TwinAck> = { ...doc.metadata.twin?.acks };
  const patches: JsonObject[] = [];
  // Components that lost a property to a remove: gone from the twin if nothing is left.
  const emptied = new Set<string>();
  let desired = doc.desired; // as the operations so far leave it, to resolve later ones
  for (const [i, raw] of operations.entries()) {
    if (!isObject(raw))
      return err(ShadowErrors.twinPatchInvalid(`operation ${i} is not an object`));
    const op = raw.op;
    if (op !== "add" && op !== "replace" && op !== "remove")
      return err(
        ShadowErrors.twinPatchInvalid(`operation ${i}: op must be add, replace or remove`),
      );
    const segments = parsePointer(raw.path);
    if (segments === undefined)
      return err(
        ShadowErrors.twinPatchInvalid(
          `operation ${i}: path must be a JSON Pointer like /component/property`,
        ),
      );
    for (const s of segments)
      if (!isDtdlName(s)) return err(ShadowErrors.twinNotConformant(s, "not a DTDL name"));
    const [head] = segments as [string, ...string[]];
    let patch: JsonObject;
    if (op === "remove") {
      if (segments.length === 1 && componentNow(head)) {
        components.delete(head);
        dropAcks(acks, `/${head}`);
        patch = { [head]: null };
      } else {
        if (
          valueAt(desired, segments) === undefined &&
          valueAt(doc.reported, segments) === undefined
        )
          return err(ShadowErrors.twinPatchInvalid(`operation ${i}: nothing at ${raw.path}`));
        dropAcks(acks, toPointer(segments));
        if (segments.length >= 2 && componentNow(head)) emptied.add(head);
        patch = nest(segments, null);
      }
    } else {
      if (!hasOwn(raw, "value"))
        return err(ShadowErrors.twinPatchInvalid(`operation ${i}: ${op} needs a value`));
      const value = raw.value as JsonValue;
      if (segments.length === 1 && isObject(value) && hasOwn(value, "$metadata")) {
        const marker = value.$metadata;
        if (!isObject(marker) || Object.keys(marker).length > 0)
          return err(
            ShadowErrors.twinPatchInvalid(`operation ${i}: the "$metadata" marker must be {}`),
          );
        const properties: Record<string, JsonValue> = {};
        for (const key in value) {
          if (key === "$metadata") continue;
          if (!isDtdlName(key)) return err(ShadowErrors.twinNotConformant(key, "not a DTDL name"));
          const problem = twinValueProblem(value[key] as JsonValue, limits.maxTwinDepth);
          if (problem !== undefined) return err(ShadowErrors.twinNotConformant(key, problem));
          properties[key] = value[key] as JsonValue;
        }
        components.add(head);
        patch = { [head]: replacement(valueAt(desired, [head]), properties) };
      } else {
        if (segments.length === 1 && componentNow(head))
          return err(
            ShadowErrors.twinPatchInvalid(
              `operation ${i}: '${head}' is a component; component operations need an empty "$metadata": {} marker`,
            ),
          );
        // /name/... is a component property unless `name` is a root property holding an object.
        const inComponent =
          segments.length >= 2 &&
          (componentNow(head) ||
            !(isObject(valueAt(desired, [head])) || isObject(valueAt(doc.reported, [head]))));
        const propertyIndex = inComponent ? 1 : 0;
        const propertyName = segments[propertyIndex] as string;
        const budget = limits.maxTwinDepth - (segments.length - 1 - propertyIndex);
        // A path below the property nests its value as deep as levels of the value do: a
        // scalar at /p/a/…/a (thousands of levels) overflowed the stack when merged.
        const problem =
          budget < 0 ? "the complex value nests too deeply" : twinValueProblem(value, budget);
        if (problem !== undefined)
          return err(ShadowErrors.twinNotConformant(propertyName, problem));
        if (inComponent) components.add(head);
        patch = nest(segments, replacement(valueAt(desired, segments), value));
      }
    }
    patches.push(patch);
    desired = mergeState(desired, {}, patch, stampOf(0, 0, "cloud"))[0];
  }
  const version = nextVersion(doc.version, ctx.version, epochOf(doc));
  if (!version.ok) return version;
  const draft = draftOf(doc, version.value);
  const stamp = stampOf(ctx.now, version.value, "cloud");
  let state = doc.desired;
  let meta = doc.metadata.desired;
  for (const patch of patches) [state, meta] = mergeState(state, meta, patch, stamp);
  draft.desired = state;
  for (const name of emptied)
    if (!hasOwn(state, name) && !isObject(valueAt(doc.reported, [name]))) components.delete(name);
  const twin: TwinMetadata = {
    ...doc.metadata.twin,
    components: [...components],
    acks,
  };
  draft.metadata = { ...doc.metadata, desired: meta, twin };
  return finishWrite(doc, draft, ctx, { desired: diffPatch(doc.desired, state) }, true);
};

/**
 * `{"value":…,"ac":200,"av":4,"ad":"…"}`: a device's answer to a writable property — an
 * object with `value`, a numeric `ac`, optionally a numeric `av` and a string `ad`, and
 * nothing else. Dialects that read acks (Azure) ask this, so they and the engine agree.
 */
export const isTwinAck = (value: JsonValue | undefined): value is JsonObject => {
  if (!isObject(value) || !hasOwn(value, "value") || typeof value.ac !== "number") return false;
  for (const key in value)
    if (key !== "value" && key !== "ac" && key !== "av" && key !== "ad") return false;
  return (
    (value.av === undefined || typeof value.av === "number") &&
    (value.ad === undefined || typeof value.ad === "string")
  );
};

/**
 * A device's reported patch in the Plug and Play convention: writable-property acks
 * `{"value","ac","av","ad"}` (at the root or inside a component) store `value` as the
 * reported value and `ac` / `av` / `ad` as the property's ackCode / ackVersion /
 * ackDescription; everything else merges as an ordinary device report.
 */
export const applyTwinReported = (
  doc: ShadowDocument,
  patch: JsonObject,
  ctx: WriteContext,
): Result<WriteResult, ShadowError> => {
  if (!isObject(patch)) return err(ShadowErrors.invalidParameter("/reported", "must be an object"));
  const acks: Record<string, TwinAck> = { ...doc.metadata.twin?.acks };
  const record = (pointer: string, ack: JsonObject) => {
    acks[pointer] = {
      code: ack.ac as number,
      // No `av`: the desired `$version` the device was last shown.
      version: typeof ack.av === "number" ? ack.av : sectionVersionsOf(doc).desired,
      ...(typeof ack.ad === "string" ? { description: ack.ad } : {}),
      timestamp: ctx.now,
    };
    return ack.value as JsonValue;
  };
  const reported: Record<string, JsonValue> = {};
  let sawAck = false;
  for (const key in patch) {
    const value = patch[key] as JsonValue;
    if (isTwinAck(value)) {
      reported[key] = record(`/${key}`, value);
      sawAck = true;
    } else if (isObject(value) && (value[COMPONENT_MARKER] === "c" || isComponent(doc, key))) {
      const component: Record<string, JsonValue> = {};
      for (const p in value) {
        const v = value[p] as JsonValue;
        if (isTwinAck(v)) {
          component[p] = record(`/${key}/${p}`, v);
          sawAck = true;
        } else component[p] = v;
      }
      reported[key] = component;
    } else reported[key] = value;
  }
  const write = applyUpdate(doc, { reported, source: "device" }, ctx);
  if (!write.ok || !sawAck) return write;
  const next = write.value.doc;
  const twin: TwinMetadata = { ...next.metadata.twin, acks };
  return ok({ ...write.value, doc: { ...next, metadata: { ...next.metadata, twin } } });
};

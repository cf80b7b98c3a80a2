import {
  FUNCTION_KEY,
  FUNCTION_RESULT_KEY,
  isSubtree,
  type LeafMetadata,
  type MetadataTree,
  type ShadowDocument,
  type TwinAck,
} from "../document.js";
import { hasOwn, isObject, type JsonObject, type JsonValue } from "../json.js";
import { COMPONENT_MARKER, isComponent } from "../twin.js";
import { toPointer } from "../validate.js";

/** Azure's time format: ISO-8601 with seven fractional digits (ours are whole ms). */
export const twinTime = (ms: number): string => `${new Date(ms).toISOString().slice(0, 23)}0000Z`;

const hidden = (key: string): boolean =>
  key === FUNCTION_KEY || key === FUNCTION_RESULT_KEY || key === COMPONENT_MARKER;

/**
 * Largest `field` over the leaves of `value` (held under `key`), whose metadata node is
 * `node`: when a property was last written, or at which version (the twin's
 * `desiredVersion`, the OneNET thing model's desired version).
 */
export const metaMax = (
  key: string,
  value: JsonValue | undefined,
  node: LeafMetadata | MetadataTree | undefined,
  field: "timestamp" | "version",
): number | undefined => {
  if (node === undefined) return undefined;
  if (!isSubtree(key, value)) return (node as LeafMetadata)[field];
  let max: number | undefined;
  const tree = node as MetadataTree;
  for (const k in value) {
    const m = metaMax(k, value[k], hasOwn(tree, k) ? tree[k] : undefined, field);
    if (m !== undefined && (max === undefined || m > max)) max = m;
  }
  return max;
};

interface Side {
  readonly state: JsonObject;
  readonly meta: MetadataTree;
}

const child = (side: Side, key: string): Side | undefined => {
  if (!hasOwn(side.state, key)) return undefined;
  const state = side.state[key];
  if (!isObject(state)) return undefined;
  return { state, meta: (hasOwn(side.meta, key) ? side.meta[key] : {}) as MetadataTree };
};

const at = (side: Side | undefined, key: string) =>
  side !== undefined && hasOwn(side.state, key)
    ? {
        value: side.state[key] as JsonValue,
        meta: hasOwn(side.meta, key) ? side.meta[key] : undefined,
      }
    : undefined;

/** The `$metadata` entry of one property (seed 004). */
const propertyMetadata = (
  name: string,
  desired: ReturnType<typeof at>,
  reported: ReturnType<typeof at>,
  ack: TwinAck | undefined,
): JsonObject => {
  const reportedTime = reported && metaMax(name, reported.value, reported.meta, "timestamp");
  const times = [reportedTime, ack?.timestamp].filter((t): t is number => t !== undefined);
  const lastUpdate =
    times.length > 0
      ? Math.max(...times)
      : desired && metaMax(name, desired.value, desired.meta, "timestamp");
  const lastUpdateTime = lastUpdate === undefined ? {} : { lastUpdateTime: twinTime(lastUpdate) };
  if (desired === undefined) return lastUpdateTime;
  const desiredVersion = metaMax(name, desired.value, desired.meta, "version");
  return {
    desiredValue: desired.value,
    ...(desiredVersion === undefined ? {} : { desiredVersion }),
    ...(ack === undefined
      ? {}
      : {
          ackVersion: ack.version,
          ackCode: ack.code,
          ...(ack.description === undefined ? {} : { ackDescription: ack.description }),
        }),
    ...lastUpdateTime,
  };
};

/** Properties of one level (the root or a component), values first, then `$metadata`. */
const renderLevel = (
  desired: Side | undefined,
  reported: Side | undefined,
  prefix: readonly string[],
  acks: { readonly [pointer: string]: TwinAck },
  skip: (key: string) => boolean,
): { values: Record<string, JsonValue>; metadata: Record<string, JsonValue> } => {
  const values: Record<string, JsonValue> = {};
  const metadata: Record<string, JsonValue> = {};
  const names = new Set<string>();
  for (const side of [reported, desired])
    if (side !== undefined)
      for (const key in side.state) if (!hidden(key) && !skip(key)) names.add(key);
  for (const name of names) {
    const r = at(reported, name);
    if (r !== undefined) values[name] = r.value;
    metadata[name] = propertyMetadata(
      name,
      at(desired, name),
      r,
      acks[toPointer([...prefix, name])],
    );
  }
  return { values, metadata };
};

/** The device's digital twin in the IoT Plug and Play shape (seed 004). */
export const renderTwin = (doc: ShadowDocument): JsonObject => {
  const desired: Side = { state: doc.desired, meta: doc.metadata.desired };
  const reported: Side = { state: doc.reported, meta: doc.metadata.reported };
  const acks = doc.metadata.twin?.acks ?? {};
  const components = new Set<string>(doc.metadata.twin?.components ?? []);
  for (const side of [doc.reported, doc.desired])
    for (const key in side) if (isComponent(doc, key)) components.add(key);
  const root = renderLevel(desired, reported, [], acks, (key) => components.has(key));
  const twin: Record<string, JsonValue> = { $dtId: doc.deviceKey, ...root.values };
  for (const name of components) {
    const level = renderLevel(
      child(desired, name),
      child(reported, name),
      [name],
      acks,
      () => false,
    );
    twin[name] = { ...level.values, $metadata: level.metadata };
  }
  const model = doc.metadata.twin?.model;
  twin.$metadata = { ...(model === undefined ? {} : { $model: model }), ...root.metadata };
  return twin;
};

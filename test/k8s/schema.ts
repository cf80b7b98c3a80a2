import type { K8sObject } from "./kustomize.js";

/**
 * Validates Kubernetes objects offline against the API's OpenAPI schemas, as compiled
 * into the model classes of `kubernetes-models` (types, formats, required fields,
 * enums). Those validators accept fields the schema does not name, which the API server
 * refuses (`kubectl apply --validate=strict`, the default): a misspelt `readinessprobe`
 * would pass silently. So every object is also checked for unknown fields — by watching
 * which properties the validator reads: it reads every property its schema defines and
 * iterates objects that are maps (labels, resources), so an own property it never
 * touched is one the schema does not have. (Schemas that preserve unknown fields, which
 * only custom resources use, would need an exception; none is rendered here.)
 */

interface ModelClass {
  readonly prototype: { validate(this: unknown): void };
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

/** The models of one group version, e.g. `apps/v1` or `v1` (the core group). */
const modelsOf = (apiVersion: string): Promise<Record<string, unknown>> => {
  let loaded = modules.get(apiVersion);
  if (loaded === undefined) {
    loaded = import(`kubernetes-models/${apiVersion}`) as Promise<Record<string, unknown>>;
    modules.set(apiVersion, loaded);
  }
  return loaded;
};

interface Watched {
  readonly path: string;
  readonly value: Record<string, unknown>;
  readonly read: Set<string>;
  iterated: boolean;
}

/** A copy of `value` in which every object records the properties read from it. */
const watch = (value: unknown, path: string, watched: Watched[]): unknown => {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item, i) => watch(item, `${path}/${i}`, watched));
  const record = value as Record<string, unknown>;
  const entry: Watched = { path, value: record, read: new Set(), iterated: false };
  watched.push(entry);
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(record))
    copy[key] = watch(child, `${path}/${key}`, watched);
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === "string") entry.read.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === "string") entry.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      entry.iterated = true;
      return Reflect.ownKeys(target);
    },
  });
};

const GROUP_VERSION = /^(?:[a-z0-9.-]+\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;

/** Problems of one object, each naming the object and the field; empty when valid. */
export const schemaProblems = async (object: K8sObject): Promise<string[]> => {
  const { apiVersion, kind } = object;
  const name = `${String(kind)}/${object.metadata?.name ?? "?"}`;
  if (typeof apiVersion !== "string" || typeof kind !== "string")
    return [`${name}: apiVersion and kind must be strings`];
  const noSchema = [`${name}: no schema for ${apiVersion} ${kind}`];
  if (!GROUP_VERSION.test(apiVersion)) return noSchema;
  let models: Record<string, unknown>;
  try {
    models = await modelsOf(apiVersion);
  } catch {
    return noSchema;
  }
  const found = models[kind];
  if (typeof found !== "function") return noSchema;
  const model = found as unknown as ModelClass;

  const watched: Watched[] = [];
  const problems: string[] = [];
  try {
    model.prototype.validate.call(watch(object, "", watched));
  } catch (e) {
    problems.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  // Parents come before their children: report an unknown field, not what is under it.
  const unknown: string[] = [];
  for (const entry of watched) {
    if (entry.iterated || unknown.some((path) => `${entry.path}/`.startsWith(`${path}/`))) continue;
    for (const key of Object.keys(entry.value))
      if (!entry.read.has(key)) unknown.push(`${entry.path}/${key}`);
  }
  for (const path of unknown) problems.push(`${name}: unknown field ${path}`);
  return problems;
};

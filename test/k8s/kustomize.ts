import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

/** The repository's k8s/ directory (this file runs from test/dist/k8s). */
export const K8S_DIR = fileURLToPath(new URL("../../../k8s/", import.meta.url));

/** Everything `kubectl kustomize` can render: the base and each overlay. */
export const KUSTOMIZATIONS = ["base", "overlays/dev", "overlays/prod"] as const;

/** A rendered object: validated against its schema before anything else reads it. */
export type K8sObject = Record<string, unknown> & {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
};

/** `KUBECTL` if set, else `kubectl` on PATH; undefined when there is none. */
export const findKubectl = (): string | undefined => {
  const explicit = process.env.KUBECTL;
  if (explicit !== undefined && explicit !== "") return explicit;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, "kubectl");
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
};

/** Parses a multi-document YAML stream; a syntax error anywhere throws. */
export const parseManifests = (text: string): K8sObject[] =>
  parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("; "));
    const value: unknown = doc.toJS();
    return value === null || value === undefined ? [] : [value as K8sObject];
  });

/** `kubectl kustomize k8s/<dir>`, parsed; throws with kubectl's own message on failure. */
export const render = (kubectl: string, dir: string): K8sObject[] => {
  const result = spawnSync(kubectl, ["kustomize", join(K8S_DIR, dir)], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0)
    throw new Error(`kubectl kustomize ${dir} failed (exit ${result.status}):\n${result.stderr}`);
  return parseManifests(result.stdout);
};

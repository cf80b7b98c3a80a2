import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findKubectl, type K8sObject, KUSTOMIZATIONS, render } from "./kustomize.js";
import { type RuleOptions, ruleProblems } from "./rules.js";
import { schemaProblems } from "./schema.js";

/**
 * Renders the base and every overlay with `kubectl kustomize` and checks each object
 * against the Kubernetes API schemas (offline) and Umbra's own rules. kubectl comes from
 * Debian's kubernetes-client (.ci/run installs it); without it the test fails under CI
 * and is skipped, saying so, elsewhere.
 */

const OPTIONS: Record<(typeof KUSTOMIZATIONS)[number], RuleOptions> = {
  base: { externalSecrets: ["umbra-secrets", "umbra-edge-tls"], production: false },
  "overlays/dev": { externalSecrets: [], production: false },
  // The operator creates umbra-secrets (k8s/overlays/prod/secret.example.yaml), and
  // cert-manager umbra-edge-tls (k8s/overlays/prod/edge-certificate.example.yaml).
  "overlays/prod": { externalSecrets: ["umbra-secrets", "umbra-edge-tls"], production: true },
};

const kubectl = findKubectl();
const MISSING =
  "kubectl is not installed: `apt-get install kubernetes-client` (what .ci/run does), or set KUBECTL to a kubectl binary";

const find = (objects: readonly K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata?.name === name) as
    | (K8sObject & { spec: Record<string, unknown> })
    | undefined;

describe("k8s manifests", () => {
  if (kubectl === undefined) {
    if (process.env.CI === "true") it("kubectl is installed", () => assert.fail(MISSING));
    else it("render and validate every kustomization", { skip: MISSING }, () => {});
    return;
  }
  const renderings = new Map<string, K8sObject[]>();
  const rendered = (dir: string): K8sObject[] => {
    let objects = renderings.get(dir);
    if (objects === undefined) {
      objects = render(kubectl, dir);
      renderings.set(dir, objects);
    }
    return objects;
  };

  for (const dir of KUSTOMIZATIONS) {
    describe(dir, () => {
      it("renders with kubectl kustomize", () => {
        assert.ok(rendered(dir).length > 0, "nothing rendered");
      });

      it("every object is valid against the Kubernetes API schema", async () => {
        const problems = (await Promise.all(rendered(dir).map(schemaProblems))).flat();
        assert.deepEqual(problems, []);
      });

      it("follows Umbra's rules (probes, resources, securityContext, drain, objects)", () => {
        assert.deepEqual(ruleProblems(rendered(dir), OPTIONS[dir]), []);
      });
    });
  }

  it("dev brings single-node NATS with JetStream and Redis with append-only persistence", () => {
    const dev = rendered("overlays/dev");
    const command = (name: string) => {
      const set = find(dev, "StatefulSet", name)?.spec as
        | { template: { spec: { containers: { command?: string[] }[] } } }
        | undefined;
      return set?.template.spec.containers[0]?.command?.join(" ") ?? "";
    };
    assert.match(command("nats"), /^nats-server .*--jetstream/);
    assert.match(command("redis"), /^redis-server .*--appendonly yes/);
    assert.equal(find(dev, "StatefulSet", "umbra-shard")?.spec.replicas, 2);
    assert.ok(
      !dev.some((o) => o.kind === "HorizontalPodAutoscaler"),
      "dev has no autoscaler, so `kubectl scale` holds",
    );
  });

  it("every object of an overlay lands in its namespace", () => {
    for (const [dir, namespace] of [
      ["overlays/dev", "umbra-dev"],
      ["overlays/prod", "umbra"],
    ] as const)
      for (const o of rendered(dir))
        if (o.kind !== "Namespace")
          assert.equal(
            o.metadata?.namespace,
            namespace,
            `${dir}: ${String(o.kind)}/${o.metadata?.name}`,
          );
  });
});

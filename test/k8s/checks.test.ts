import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { K8S_DIR, type K8sObject, parseManifests } from "./kustomize.js";
import {
  containerProblems,
  type RuleOptions,
  ruleProblems,
  umbraContainerProblems,
} from "./rules.js";
import { schemaProblems } from "./schema.js";

/**
 * The checks of manifests.test.ts catch what they are meant to: each case breaks one
 * field of the base's manifests (read directly, no kubectl needed) and expects the
 * problem to be named.
 */

// biome-ignore lint/suspicious/noExplicitAny: the cases reach into parsed YAML freely
type Loose = any;

const baseObjects = (): Loose[] =>
  ["edge.yaml", "shard.yaml", "reply.yaml", "api.yaml"].flatMap((file) =>
    parseManifests(readFileSync(join(K8S_DIR, "base", file), "utf8")),
  );
const shardSet = (objects: Loose[]): Loose => objects.find((o) => o.kind === "StatefulSet");
const shardContainer = (objects: Loose[]): Loose =>
  shardSet(objects).spec.template.spec.containers[0];
/** The base's workloads with an image a kustomization would set. */
const withImages = (objects: Loose[], image: string): K8sObject[] => {
  for (const o of objects)
    for (const c of o.spec?.template?.spec?.containers ?? []) c.image = image;
  return objects;
};
const DEV: RuleOptions = { externalSecrets: [], production: false };
const PROD: RuleOptions = { externalSecrets: [], production: true };

const schemaOf = async (objects: Loose[]) =>
  (await Promise.all(objects.map(schemaProblems))).flat();

describe("k8s checks catch broken manifests", () => {
  it("the base's objects pass as written", async () => {
    const objects = withImages(baseObjects(), "umbra:0.1.0");
    assert.deepEqual(await schemaOf(objects), []);
    assert.deepEqual(containerProblems(objects, PROD), []);
    assert.deepEqual(umbraContainerProblems(objects), []);
  });

  it("schema: a value of the wrong type", async () => {
    const objects = baseObjects();
    shardSet(objects).spec.template.spec.terminationGracePeriodSeconds = "sixty";
    const problems = await schemaOf(objects);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(
      problems[0] ?? "",
      /StatefulSet\/umbra-shard: .*terminationGracePeriodSeconds must be integer/,
    );
  });

  it("schema: a misspelt field", async () => {
    const objects = baseObjects();
    const container = shardContainer(objects);
    container.readinessprobe = container.readinessProbe;
    delete container.readinessProbe;
    assert.deepEqual(await schemaOf(objects), [
      "StatefulSet/umbra-shard: unknown field /spec/template/spec/containers/0/readinessprobe",
    ]);
  });

  it("schema: a missing required field and a bad quantity", async () => {
    const objects = baseObjects();
    const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "umbra-edge");
    delete service.spec.ports[0].port;
    shardContainer(objects).resources.limits.memory = "two gigs";
    const problems = (await schemaOf(objects)).join("\n");
    assert.match(problems, /Service\/umbra-edge: .*must have required property port/);
    assert.match(problems, /StatefulSet\/umbra-shard: .*limits\/memory/);
  });

  it("schema: a kind it has no schema for is an error, not a pass", async () => {
    const problems = await schemaProblems({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name: "umbra" },
    });
    assert.deepEqual(problems, [
      "ServiceMonitor/umbra: no schema for monitoring.coreos.com/v1 ServiceMonitor",
    ]);
  });

  it("rules: a container that may write its root filesystem or keeps capabilities", () => {
    const objects = withImages(baseObjects(), "umbra:0.1.0") as Loose[];
    const container = shardContainer(objects);
    container.securityContext.readOnlyRootFilesystem = false;
    container.securityContext.capabilities = {};
    assert.deepEqual(containerProblems(objects, DEV), [
      "StatefulSet/umbra-shard container shard: readOnlyRootFilesystem is not true",
      "StatefulSet/umbra-shard container shard: capabilities do not drop ALL",
    ]);
  });

  it("rules: no probes or limits", () => {
    const objects = withImages(baseObjects(), "umbra:0.1.0") as Loose[];
    const container = shardContainer(objects);
    delete container.livenessProbe;
    delete container.resources.limits;
    assert.deepEqual(containerProblems(objects, DEV), [
      "StatefulSet/umbra-shard container shard: no livenessProbe",
      "StatefulSet/umbra-shard container shard: no resources.limits.cpu",
      "StatefulSet/umbra-shard container shard: no resources.limits.memory",
    ]);
  });

  it("rules: latest or floating images", () => {
    const latest = withImages(baseObjects(), "ghcr.io/umbra-iot/umbra:latest");
    assert.equal(containerProblems(latest, DEV).length, 4);
    const untagged = withImages(baseObjects(), "ghcr.io/umbra-iot/umbra");
    assert.match(containerProblems(untagged, DEV)[0] ?? "", /has no version/);
    const floating = withImages(baseObjects(), "ghcr.io/umbra-iot/umbra:dev");
    assert.deepEqual(containerProblems(floating, DEV), []);
    assert.match(containerProblems(floating, PROD)[0] ?? "", /not pinned to a release/);
  });

  it("rules: a shard without its stable identity or drain time", () => {
    const objects = withImages(baseObjects(), "umbra:0.1.0") as Loose[];
    const container = shardContainer(objects);
    container.env = container.env.filter((e: Loose) => e.name !== "SHARD_ID");
    shardSet(objects).spec.template.spec.terminationGracePeriodSeconds = 20;
    assert.deepEqual(umbraContainerProblems(objects), [
      "StatefulSet/umbra-shard (shard): SHARD_ID is not the pod's name (downward API)",
      "StatefulSet/umbra-shard (shard): grace 20 s < 30 s (hand-off 10000 ms + drain)",
    ]);
  });

  it("rules: probes that are not the ops endpoints", () => {
    const objects = withImages(baseObjects(), "umbra:0.1.0") as Loose[];
    const edge = objects.find((o) => o.metadata.name === "umbra-edge" && o.kind === "Deployment");
    edge.spec.template.spec.containers[0].readinessProbe.httpGet.path = "/healthz";
    assert.deepEqual(umbraContainerProblems(objects), [
      "Deployment/umbra-edge (edge): probe is not GET /readyz",
    ]);
  });

  it("rules: an edge whose TLS certificate is not the mounted Secret's, or no 8883 on its Service", () => {
    const tlsProblems = (objects: Loose[], options: RuleOptions) =>
      ruleProblems(objects, {
        ...options,
        externalSecrets: ["umbra-secrets", "umbra-edge-tls"],
      }).filter((p) => /TLS|mqtts|8883/.test(p));
    const fresh = () => withImages(baseObjects(), "umbra:0.1.0") as Loose[];
    const edgeOf = (objects: Loose[]) =>
      objects.find((o) => o.metadata.name === "umbra-edge" && o.kind === "Deployment");
    assert.deepEqual(tlsProblems(fresh(), PROD), []);

    const subPath = fresh();
    const mount = edgeOf(subPath).spec.template.spec.containers[0].volumeMounts.find(
      (m: Loose) => m.name === "tls",
    );
    mount.subPath = "tls.crt";
    assert.match(tlsProblems(subPath, PROD).join("\n"), /MQTT_TLS_CERT .* Secret mounted whole/);

    const noCert = fresh();
    const env = edgeOf(noCert).spec.template.spec.containers[0].env;
    for (const e of env) if (e.name === "MQTT_TLS_CERT" || e.name === "MQTT_TLS_KEY") e.value = "";
    assert.deepEqual(tlsProblems(noCert, DEV), []);
    assert.match(tlsProblems(noCert, PROD).join("\n"), /development CA in prod/);

    const noPort = fresh();
    const service = noPort.find((o) => o.metadata.name === "umbra-edge" && o.kind === "Service");
    service.spec.ports = service.spec.ports.filter((p: Loose) => p.port !== 8883);
    assert.match(tlsProblems(noPort, DEV).join("\n"), /no Service port 8883 → mqtts/);
  });
});

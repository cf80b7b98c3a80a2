import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IIngress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IService } from "kubernetes-models/v1/Service";
import type { K8sObject } from "./kustomize.js";

/**
 * Umbra's own rules for its manifests, on top of the API schemas: what a reviewer would
 * otherwise have to remember (probes, limits, a locked-down container, the shard's
 * identity and drain time, the objects each service needs). Each rule returns readable
 * problems; none means the rendering is fine. Objects must have passed the schema check.
 */

export interface RuleOptions {
  /** Secrets the cluster's operator creates (not rendered), e.g. prod's umbra-secrets. */
  readonly externalSecrets: readonly string[];
  /** prod: pinned release images, the shard autoscaler, TLS on the edge. */
  readonly production: boolean;
}

type Workload = K8sObject & {
  readonly kind: "Deployment" | "StatefulSet" | "DaemonSet";
  readonly spec: {
    readonly replicas?: number;
    readonly serviceName?: string;
    readonly selector: { readonly matchLabels?: Record<string, string> };
    readonly template: IPodTemplateSpec;
  };
};

const UMBRA_SERVICES = ["edge", "shard", "reply", "api"] as const;
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

const nameOf = (o: K8sObject): string => `${String(o.kind)}/${o.metadata?.name ?? "?"}`;
const ofKind = <T>(objects: readonly K8sObject[], kind: string): (K8sObject & T)[] =>
  objects.filter((o) => o.kind === kind) as (K8sObject & T)[];
const workloadsOf = (objects: readonly K8sObject[]): Workload[] =>
  objects.filter((o) => WORKLOAD_KINDS.has(String(o.kind))) as Workload[];
const containersOf = (w: Workload): IContainer[] => [
  ...(w.spec.template.spec?.initContainers ?? []),
  ...(w.spec.template.spec?.containers ?? []),
];
/** The Umbra service a container runs (`umbra <service>`), if it is one. */
const umbraService = (c: IContainer): string | undefined => {
  const service = c.args?.[0];
  return (c.image ?? "").includes("umbra") && UMBRA_SERVICES.includes(service as never)
    ? service
    : undefined;
};

const selects = (selector: Record<string, string> | undefined, labels = {}): boolean =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => (labels as Record<string, string>)[k] === v);

/** Probes, resources, a locked-down securityContext and a pinned image, per container. */
export const containerProblems = (objects: readonly K8sObject[], options: RuleOptions) =>
  workloadsOf(objects).flatMap((w) => {
    const pod = w.spec.template.spec;
    return containersOf(w).flatMap((c) => {
      const where = `${nameOf(w)} container ${c.name}`;
      const problems: string[] = [];
      if (c.readinessProbe === undefined) problems.push(`${where}: no readinessProbe`);
      if (c.livenessProbe === undefined) problems.push(`${where}: no livenessProbe`);
      for (const bound of ["requests", "limits"] as const)
        for (const resource of ["cpu", "memory"])
          if (c.resources?.[bound]?.[resource] === undefined)
            problems.push(`${where}: no resources.${bound}.${resource}`);
      const sc = c.securityContext;
      if ((sc?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot) !== true)
        problems.push(`${where}: runAsNonRoot is not true`);
      if (sc?.allowPrivilegeEscalation !== false)
        problems.push(`${where}: allowPrivilegeEscalation is not false`);
      if (sc?.readOnlyRootFilesystem !== true)
        problems.push(`${where}: readOnlyRootFilesystem is not true`);
      if (sc?.privileged === true) problems.push(`${where}: privileged`);
      if (!(sc?.capabilities?.drop ?? []).includes("ALL"))
        problems.push(`${where}: capabilities do not drop ALL`);
      const seccomp = sc?.seccompProfile?.type ?? pod?.securityContext?.seccompProfile?.type;
      if (seccomp !== "RuntimeDefault") problems.push(`${where}: seccomp is not RuntimeDefault`);
      problems.push(...imageProblems(where, c.image ?? "", options));
      return problems;
    });
  });

const imageProblems = (where: string, image: string, options: RuleOptions): string[] => {
  const lastPart = image.slice(image.lastIndexOf("/") + 1);
  const digest = image.includes("@sha256:");
  const tag = lastPart.includes(":") ? lastPart.slice(lastPart.indexOf(":") + 1) : undefined;
  if (!digest && (tag === undefined || tag === "latest"))
    return [`${where}: image ${image} has no version (tag missing or latest)`];
  if (options.production && !digest && !/^v?\d+\.\d+\.\d+/.test(tag ?? ""))
    return [`${where}: image ${image} is not pinned to a release (x.y.z) in production`];
  return [];
};

const sleepSeconds = (c: IContainer): number => {
  const command = c.lifecycle?.preStop?.exec?.command ?? [];
  return command[0] === "sleep" ? Number(command[1]) : 0;
};

/** The configuration value every Umbra container gets from its ConfigMap, if set. */
const configValue = (objects: readonly K8sObject[], key: string): string | undefined => {
  for (const map of ofKind<{ data?: Record<string, string> }>(objects, "ConfigMap"))
    if (map.data?.[key] !== undefined) return map.data[key];
  return undefined;
};

/** What each Umbra container needs: ops endpoints as probes, and its drain. */
export const umbraContainerProblems = (objects: readonly K8sObject[]) => {
  const lease = Number(configValue(objects, "MEMBER_LEASE_MS") ?? 5_000);
  const handoffMs = Number(configValue(objects, "HANDOFF_TIMEOUT_MS") ?? 2 * lease);
  return workloadsOf(objects).flatMap((w) =>
    (w.spec.template.spec?.containers ?? []).flatMap((c) => {
      const service = umbraService(c);
      if (service === undefined) return [];
      const where = `${nameOf(w)} (${service})`;
      const problems: string[] = [];
      const ports = c.ports ?? [];
      const probePort = ports.find((p) => p.name === (service === "api" ? "http" : "ops"));
      if (probePort === undefined)
        problems.push(`${where}: no ${service === "api" ? "http" : "ops"} port`);
      for (const [probe, path] of [
        [c.readinessProbe, "/readyz"],
        [c.livenessProbe, "/healthz"],
      ] as const) {
        if (probe?.httpGet?.path !== path) problems.push(`${where}: probe is not GET ${path}`);
        const port = probe?.httpGet?.port;
        if (port !== probePort?.name && port !== probePort?.containerPort)
          problems.push(`${where}: ${path} probe is not on the ${probePort?.name} port`);
      }
      if (service !== "api" && !c.env?.some((e) => e.name === "OPS_PORT" && e.value === "9090"))
        problems.push(`${where}: OPS_PORT is not 9090`);
      const grace = w.spec.template.spec?.terminationGracePeriodSeconds ?? 30;
      if (service === "edge" || service === "api") {
        // Traffic reaches them through a Service: stop it before the listener closes.
        const sleep = sleepSeconds(c);
        if (sleep <= 0) problems.push(`${where}: no preStop sleep`);
        if (grace < sleep + 15)
          problems.push(`${where}: grace ${grace} s leaves < 15 s after preStop`);
      }
      if (service === "shard") {
        if (w.kind !== "StatefulSet") problems.push(`${where}: not a StatefulSet`);
        const id = c.env?.find((e) => e.name === "SHARD_ID");
        if (id?.valueFrom?.fieldRef?.fieldPath !== "metadata.name")
          problems.push(`${where}: SHARD_ID is not the pod's name (downward API)`);
        const needed = Math.max(30, Math.ceil(handoffMs / 1000) + 20);
        if (grace < needed)
          problems.push(
            `${where}: grace ${grace} s < ${needed} s (hand-off ${handoffMs} ms + drain)`,
          );
      }
      return problems;
    }),
  );
};

/** The objects around the workloads: Services, PDBs, Ingress, autoscaler, config. */
export const structureProblems = (objects: readonly K8sObject[], options: RuleOptions) => {
  const problems: string[] = [];
  const workloads = workloadsOf(objects);
  const byService = new Map<string, Workload>();
  for (const w of workloads)
    for (const c of w.spec.template.spec?.containers ?? []) {
      const service = umbraService(c);
      if (service !== undefined) byService.set(service, w);
    }
  for (const service of UMBRA_SERVICES)
    if (!byService.has(service)) problems.push(`no workload runs umbra ${service}`);

  const services = ofKind<IService>(objects, "Service");
  for (const s of services) {
    const target = workloads.find((w) =>
      selects(s.spec?.selector, w.spec.template.metadata?.labels),
    );
    if (target === undefined) {
      problems.push(`${nameOf(s)}: selects no workload`);
      continue;
    }
    const names = new Set(
      (target.spec.template.spec?.containers ?? []).flatMap((c) =>
        (c.ports ?? []).map((p) => p.name),
      ),
    );
    for (const p of s.spec?.ports ?? [])
      if (typeof p.targetPort === "string" && !names.has(p.targetPort))
        problems.push(`${nameOf(s)}: targetPort ${p.targetPort} is no port of ${nameOf(target)}`);
  }
  const serviceOf = (w: Workload | undefined) =>
    services.find(
      (s) => w !== undefined && selects(s.spec?.selector, w.spec.template.metadata?.labels),
    );

  const pdbs = ofKind<{ spec?: { selector?: { matchLabels?: Record<string, string> } } }>(
    objects,
    "PodDisruptionBudget",
  );
  for (const service of ["edge", "shard"] as const) {
    const w = byService.get(service);
    if (
      w !== undefined &&
      !pdbs.some((p) => selects(p.spec?.selector?.matchLabels, w.spec.template.metadata?.labels))
    )
      problems.push(`${nameOf(w)}: no PodDisruptionBudget`);
  }

  const edgeService = serviceOf(byService.get("edge"));
  const edgePorts = new Map((edgeService?.spec?.ports ?? []).map((p) => [p.port, p.targetPort]));
  if (edgePorts.get(1883) !== "mqtt") problems.push("edge: no Service port 1883 → mqtt");
  // The edge terminates TLS itself: it must see the devices' client certificates.
  if (edgePorts.get(8883) !== "mqtts")
    problems.push("edge: no Service port 8883 → mqtts (the edge's own TLS listener)");
  problems.push(...edgeTlsProblems(byService.get("edge"), options));

  const shard = byService.get("shard");
  if (shard !== undefined) {
    const governing = services.find((s) => s.metadata?.name === shard.spec.serviceName);
    if (governing?.spec?.clusterIP !== "None")
      problems.push(`${nameOf(shard)}: serviceName is not a headless Service of this rendering`);
    const autoscalers = ofKind<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler").filter(
      (h) =>
        h.spec?.scaleTargetRef.kind === "StatefulSet" &&
        h.spec.scaleTargetRef.name === shard.metadata?.name,
    );
    if (options.production) {
      if (
        !autoscalers.some(
          (h) =>
            h.apiVersion === "autoscaling/v2" &&
            h.spec?.metrics?.some((m) => m.resource?.name === "cpu"),
        )
      )
        problems.push(`${nameOf(shard)}: no autoscaling/v2 HorizontalPodAutoscaler on CPU`);
      if (shard.spec.replicas !== undefined)
        problems.push(`${nameOf(shard)}: sets replicas, which the autoscaler owns`);
    }
  }

  const api = serviceOf(byService.get("api"));
  const ingresses = ofKind<IIngress>(objects, "Ingress");
  const routed = ingresses.some((i) =>
    (i.spec?.rules ?? []).some((r) =>
      (r.http?.paths ?? []).some((p) => p.backend.service?.name === api?.metadata?.name),
    ),
  );
  if (api === undefined || !routed) problems.push("api: no Service behind an Ingress");

  const rendered = (kind: string) =>
    new Set(objects.filter((o) => o.kind === kind).map((o) => o.metadata?.name));
  const configMaps = rendered("ConfigMap");
  const secrets = rendered("Secret");
  for (const w of workloads)
    for (const c of containersOf(w)) {
      for (const from of c.envFrom ?? [])
        if (from.configMapRef !== undefined && !configMaps.has(from.configMapRef.name))
          problems.push(`${nameOf(w)}: ConfigMap ${from.configMapRef.name} is not rendered`);
      for (const e of c.env ?? []) {
        const secret = e.valueFrom?.secretKeyRef?.name;
        if (
          secret !== undefined &&
          !secrets.has(secret) &&
          !options.externalSecrets.includes(secret)
        )
          problems.push(
            `${nameOf(w)}: Secret ${secret} is neither rendered nor documented as external`,
          );
      }
    }
  for (const w of workloads)
    for (const v of w.spec.template.spec?.volumes ?? []) {
      const secret = v.secret;
      if (
        secret?.secretName !== undefined &&
        secret.optional !== true &&
        !secrets.has(secret.secretName) &&
        !options.externalSecrets.includes(secret.secretName)
      )
        problems.push(
          `${nameOf(w)}: Secret ${secret.secretName} (volume ${v.name}) is neither rendered nor documented as external`,
        );
    }
  for (const secret of options.externalSecrets)
    if (secrets.has(secret))
      problems.push(`Secret/${secret} is rendered: applying would overwrite the operator's`);
  return problems;
};

/**
 * The edge's TLS listener: MQTTS_PORT on its `mqtts` container port, and a certificate
 * and key that are files of a mounted Secret of type kubernetes.io/tls (`tls.crt`,
 * `tls.key`, what cert-manager writes) mounted whole, so a renewal reaches them. In prod
 * the Secret is required; elsewhere the certificate may be left to the edge (its
 * development CA), with MQTT_TLS_CERT and MQTT_TLS_KEY set empty.
 */
const edgeTlsProblems = (edge: Workload | undefined, options: RuleOptions): string[] => {
  if (edge === undefined) return [];
  const problems: string[] = [];
  const container = edge.spec.template.spec?.containers.find((c) => umbraService(c) === "edge");
  if (container === undefined) return [];
  const env = new Map((container.env ?? []).map((e) => [e.name, e.value]));
  const port = container.ports?.find((p) => p.name === "mqtts")?.containerPort;
  if (port === undefined || env.get("MQTTS_PORT") !== String(port))
    problems.push(`${nameOf(edge)}: MQTTS_PORT is not its mqtts container port`);
  const cert = env.get("MQTT_TLS_CERT") ?? "";
  const key = env.get("MQTT_TLS_KEY") ?? "";
  if (cert === "" && key === "") {
    if (options.production)
      problems.push(`${nameOf(edge)}: no MQTT_TLS_CERT / MQTT_TLS_KEY (a development CA in prod)`);
    return problems;
  }
  const volumes = edge.spec.template.spec?.volumes ?? [];
  for (const [variable, path, file] of [
    ["MQTT_TLS_CERT", cert, "tls.crt"],
    ["MQTT_TLS_KEY", key, "tls.key"],
  ] as const) {
    const mount = (container.volumeMounts ?? []).find((m) => path === `${m.mountPath}/${file}`);
    const secret = volumes.find((v) => v.name === mount?.name)?.secret;
    if (mount === undefined || secret === undefined || mount.subPath !== undefined)
      problems.push(
        `${nameOf(edge)}: ${variable} (${path}) is not ${file} of a Secret mounted whole`,
      );
    else if (options.production && secret.optional === true)
      problems.push(`${nameOf(edge)}: the TLS Secret ${secret.secretName} is optional in prod`);
  }
  return problems;
};

/** Every rule over one rendering. */
export const ruleProblems = (objects: readonly K8sObject[], options: RuleOptions): string[] => [
  ...containerProblems(objects, options),
  ...umbraContainerProblems(objects),
  ...structureProblems(objects, options),
];

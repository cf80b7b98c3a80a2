/**
 * The cluster a load run drives: NATS, Redis and the Umbra services, in containers when a
 * Docker engine answers (testcontainers, the `umbra:dev` image), as local processes
 * otherwise. Either way the run sees the same endpoints.
 */
import { dockerAvailable } from "../src/harness.js";
import type { Scenario } from "./scenario.js";

export interface ClusterProcess {
  /** e.g. `edge-1`, `shard-2`, `nats-server`. */
  readonly name: string;
  /** Local processes only: the CPU sampler reads /proc/{pid}. */
  readonly pid: number | undefined;
}

export interface LoadCluster {
  readonly runtime: "local" | "containers";
  /** One MQTT endpoint per edge. */
  readonly mqttUrls: readonly string[];
  readonly apiUrl: string;
  /** Each shard's Prometheus endpoint (`/metrics` on its OPS_PORT). */
  readonly shardMetricsUrls: readonly string[];
  readonly processes: readonly ClusterProcess[];
  /** What died during the run, if anything did (a dead process fails the run). */
  died(): string[];
  /** The last output of every Umbra service, to explain a failed run. */
  logs(): string;
  stop(): Promise<void>;
}

/** Environment every Umbra service of a load run gets. */
export const serviceEnv = (): Record<string, string> => ({
  // Devices connect without credentials (username = product, client id = name); the
  // run registers them through the API so that cloud writes and the final check find them.
  UMBRA_AUTH: "off",
  API_AUTH: "off",
  // A load run measures the cluster, not the API's per-key rate limit.
  API_RATE_LIMIT: "0",
  LOG_LEVEL: "info",
});

export const startLoadCluster = async (
  scenario: Scenario,
  log: (line: string) => void,
): Promise<LoadCluster> => {
  if (await dockerAvailable()) {
    log("a Docker engine answers: the cluster runs in containers (testcontainers)");
    const { startContainerCluster } = await import("./cluster-containers.js");
    return startContainerCluster(scenario, log);
  }
  log("no Docker engine: the cluster runs as local processes");
  const { startLocalCluster } = await import("./cluster-local.js");
  return startLocalCluster(scenario, log);
};

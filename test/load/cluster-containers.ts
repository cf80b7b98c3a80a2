/**
 * The load run's cluster in containers (testcontainers): NATS and Redis from their
 * official images and every Umbra service from `umbra:dev` (built from the repository's
 * Dockerfile when the engine does not have it), on one Docker network where they find
 * each other by name. The load generator stays on the host and reaches the edges, the api
 * and the shards' metrics through published ports.
 *
 * CPU: each container's process is sampled by its host pid, like a local process, and so
 * is every docker-proxy carrying a published port the run uses (Docker's userland proxy
 * forwards loopback traffic): part of what containers cost here.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { StartedNetwork, StartedTestContainer } from "testcontainers";
import { containerPid, REPO_ROOT, testContainerLabels } from "../src/harness.js";
import { type LoadCluster, serviceEnv } from "./cluster.js";
import type { Scenario } from "./scenario.js";

export const UMBRA_IMAGE = "umbra:dev";

/** docker-proxy processes forwarding one of these host ports, by /proc's command lines. */
const proxyPids = (hostPorts: ReadonlySet<number>): { port: number; pid: number }[] => {
  const found: { port: number; pid: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (!(argv[0] ?? "").endsWith("docker-proxy")) continue;
    const port = Number(argv[argv.indexOf("-host-port") + 1]);
    if (hostPorts.has(port)) found.push({ port, pid: Number(entry) });
  }
  return found;
};
const STARTUP_MS = 180_000;
const MQTT = 1883;
const HTTP = 8080;
const OPS = 9090;

export const startContainerCluster = async (
  scenario: Scenario,
  log: (line: string) => void,
): Promise<LoadCluster> => {
  // Imported only here: the local path never loads testcontainers.
  const { GenericContainer, getContainerRuntimeClient, ImageName, Network, Wait } = await import(
    "testcontainers"
  );
  const containers: { name: string; container: StartedTestContainer }[] = [];
  let network: StartedNetwork | undefined;
  const stop = async () => {
    await Promise.allSettled(containers.map(({ container }) => container.stop()));
    await network?.stop();
  };
  try {
    const client = await getContainerRuntimeClient();
    if (!(await client.image.exists(ImageName.fromString(UMBRA_IMAGE)))) {
      log(`building ${UMBRA_IMAGE} from ${REPO_ROOT}Dockerfile (once; later runs reuse it)`);
      await GenericContainer.fromDockerfile(REPO_ROOT).build(UMBRA_IMAGE, { deleteOnExit: false });
    }
    network = await new Network().start();
    const net = network;

    log("starting NATS (JetStream) and Redis containers");
    const [nats, redis] = await Promise.all([
      new GenericContainer("nats:2")
        .withLabels(testContainerLabels())
        .withNetwork(net)
        .withNetworkAliases("nats")
        .withCommand(["-js"])
        .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
        .withStartupTimeout(STARTUP_MS)
        .start(),
      new GenericContainer("redis:7")
        .withLabels(testContainerLabels())
        .withNetwork(net)
        .withNetworkAliases("redis")
        // Published too: with several shards the run reads their partition claims from here.
        .withExposedPorts(6379)
        .withCommand(["redis-server", "--save", "", "--appendonly", "no"])
        .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
        .withStartupTimeout(STARTUP_MS)
        .start(),
    ]);
    containers.push({ name: "nats", container: nats }, { name: "redis", container: redis });

    const env = {
      ...serviceEnv(),
      NATS_URL: "nats://nats:4222",
      REDIS_URL: "redis://redis:6379",
      MQTT_PORT: String(MQTT),
      HTTP_PORT: String(HTTP),
      OPS_PORT: String(OPS),
    };
    const umbra = async (name: string, service: string, ports: number[], extra = {}) => {
      const container = await new GenericContainer(UMBRA_IMAGE)
        .withLabels(testContainerLabels())
        .withNetwork(net)
        .withNetworkAliases(name)
        .withCommand([service])
        .withEnvironment({ ...env, ...extra })
        .withExposedPorts(...ports)
        // Every service logs one pino line with "msg":"ready" once it serves.
        .withWaitStrategy(Wait.forLogMessage(/"msg":"ready"/))
        .withStartupTimeout(STARTUP_MS)
        .start();
      containers.push({ name, container });
      return container;
    };

    log(
      `starting ${scenario.shards} shard(s), reply, api and ${scenario.edges} edge(s) from ${UMBRA_IMAGE}`,
    );
    const cluster = scenario.shards > 1;
    const shards = await Promise.all(
      Array.from({ length: scenario.shards }, (_, k) =>
        umbra(
          `shard-${k + 1}`,
          "shard",
          [OPS],
          cluster ? { SHARD_ID: `load-shard-${k + 1}` } : { SHARD_PARTITIONS: "all" },
        ),
      ),
    );
    const [, api, ...edges] = await Promise.all([
      umbra("reply", "reply", [OPS]),
      umbra("api", "api", [HTTP, OPS]),
      ...Array.from({ length: scenario.edges }, (_, k) =>
        umbra(`edge-${k + 1}`, "edge", [MQTT, OPS], { EDGE_ID: `load-edge-${k + 1}` }),
      ),
    ]);
    if (api === undefined) throw new Error("the api container did not start");
    if (cluster) {
      const { isSettled, pollUntil, readCluster } = await import("../src/harness.js");
      const redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
      await pollUntil(async () => isSettled(await readCluster(redisUrl), scenario.shards), {
        timeoutMs: 60_000,
        what: `${scenario.shards} shards to share the partitions`,
        intervalMs: 200,
      });
    }
    const url = (scheme: string, c: StartedTestContainer, port: number, path = "") =>
      `${scheme}://${c.getHost()}:${c.getMappedPort(port)}${path}`;
    const processes = await Promise.all(
      containers.map(async ({ name, container }) => ({
        name,
        pid: await containerPid(container.getId()),
      })),
    );
    // The ports the load itself crosses: the edges' MQTT and the api's HTTP.
    const loadPorts = new Map<number, string>([
      ...edges.map((edge, k) => [edge.getMappedPort(MQTT), `edge-${k + 1}`] as const),
      [api.getMappedPort(HTTP), "api"],
    ]);
    for (const { port, pid } of proxyPids(new Set(loadPorts.keys())))
      processes.push({ name: `docker-proxy ${loadPorts.get(port)}:${port} (pid ${pid})`, pid });
    return {
      runtime: "containers",
      mqttUrls: edges.map((edge) => url("mqtt", edge, MQTT)),
      apiUrl: url("http", api, HTTP),
      shardMetricsUrls: shards.map((shard) => url("http", shard, OPS, "/metrics")),
      processes,
      died: () => [],
      logs: () => "(container logs: docker logs <container>)",
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

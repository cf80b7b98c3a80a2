/** The load run's cluster as local processes: the harness's servers and `umbra <service>`. */
import {
  freePort,
  isSettled,
  pollUntil,
  readCluster,
  type Server,
  type ServiceProcess,
  startNats,
  startRedis,
  startService,
} from "../src/harness.js";
import { type LoadCluster, serviceEnv } from "./cluster.js";
import type { Scenario } from "./scenario.js";

const READY_MS = 60_000;

interface Named {
  readonly name: string;
  readonly service: ServiceProcess;
}

export const startLocalCluster = async (
  scenario: Scenario,
  log: (line: string) => void,
): Promise<LoadCluster> => {
  const servers: Server[] = [];
  const services: Named[] = [];
  const stop = async () => {
    await Promise.allSettled(services.map(({ service }) => service.stop()));
    await Promise.allSettled(servers.map((server) => server.stop()));
  };
  try {
    log("starting NATS (JetStream) and Redis");
    const [nats, redis] = await Promise.allSettled([startNats(), startRedis()]);
    for (const started of [nats, redis])
      if (started.status === "fulfilled") servers.push(started.value);
    if (nats.status === "rejected") throw nats.reason;
    if (redis.status === "rejected") throw redis.reason;

    const env = {
      ...serviceEnv(),
      NATS_URL: nats.value.url,
      REDIS_URL: redis.value.url,
      MQTT_HOST: "127.0.0.1",
      MQTT_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      OPS_HOST: "127.0.0.1",
    };
    const start = async (name: string, args: string[], extra: Record<string, string>) => {
      const opsPort = await freePort();
      const service = await startService(
        args,
        { ...env, OPS_PORT: String(opsPort), ...extra },
        {
          timeoutMs: READY_MS,
        },
      );
      services.push({ name, service });
      return { service, opsPort };
    };

    // One shard owns every partition itself; several form an elastic cluster.
    const cluster = scenario.shards > 1;
    log(`starting ${scenario.shards} shard(s), reply, api and ${scenario.edges} edge(s)`);
    const started = await Promise.allSettled([
      ...Array.from({ length: scenario.shards }, (_, k) =>
        start(
          `shard-${k + 1}`,
          ["shard"],
          cluster ? { SHARD_ID: `load-shard-${k + 1}` } : { SHARD_PARTITIONS: "all" },
        ),
      ),
      start("reply", ["reply"], {}),
      start("api", ["api"], {}),
      ...Array.from({ length: scenario.edges }, (_, k) =>
        start(`edge-${k + 1}`, ["edge"], { EDGE_ID: `load-edge-${k + 1}` }),
      ),
    ]);
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const ok = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    if (cluster)
      await pollUntil(async () => isSettled(await readCluster(redis.value.url), scenario.shards), {
        timeoutMs: 60_000,
        what: `${scenario.shards} shards to share the partitions`,
        intervalMs: 100,
      });

    const readyOf = (service: string) => ok.filter((s) => s.service.ready[service] !== undefined);
    const mqttUrls = readyOf("edge").map(({ service }) => {
      const port = service.ready.edge?.mqttPort;
      if (typeof port !== "number") throw new Error("an edge's ready line carries no mqttPort");
      return `mqtt://127.0.0.1:${port}`;
    });
    const httpPort = readyOf("api")[0]?.service.ready.api?.httpPort;
    if (typeof httpPort !== "number") throw new Error("the api's ready line carries no httpPort");

    return {
      runtime: "local",
      mqttUrls,
      apiUrl: `http://127.0.0.1:${httpPort}`,
      shardMetricsUrls: readyOf("shard").map(
        ({ opsPort }) => `http://127.0.0.1:${opsPort}/metrics`,
      ),
      processes: [
        ...services.map(({ name, service }) => ({ name, pid: service.proc.pid })),
        { name: "nats-server", pid: nats.value.pid },
        { name: "redis-server", pid: redis.value.pid },
      ],
      died: () =>
        services
          .filter(
            ({ service }) => service.proc.exitCode !== null || service.proc.signalCode !== null,
          )
          .map(
            ({ name, service }) =>
              `${name} exited (${service.proc.signalCode ?? `code ${service.proc.exitCode}`}) during the run`,
          ),
      logs: () =>
        services
          .map(({ name, service }) => `--- last output of ${name} ---\n${service.logs()}`)
          .join("\n"),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

import { type NatsOptions, type Server, startNats, startRedis } from "./servers.js";
import { type ServiceProcess, startService } from "./service.js";

/** A device tier of separate processes on servers of its own: shard, reply and edge. */
export interface ServiceTier {
  readonly nats: Server;
  readonly redis: Server;
  readonly shard: ServiceProcess;
  readonly reply: ServiceProcess;
  readonly edge: ServiceProcess;
  /** The environment every process got (the servers' URLs among it). */
  readonly env: Record<string, string>;
  /** Stops the processes, then the servers. */
  stop(): Promise<void>;
}

/**
 * Starts NATS (`nats` options; JetStream off unless asked for) and Redis, then a shard
 * owning every partition, a reply service and an edge listening on a free port without
 * device authentication, each with `env` added: what tests of the bus and the shard
 * under stress share.
 */
export const startServiceTier = async (
  env: Record<string, string> = {},
  nats: NatsOptions = {},
): Promise<ServiceTier> => {
  const [natsServer, redisServer] = await Promise.all([
    startNats({ jetstream: false, ...nats }),
    startRedis(),
  ]);
  const all = {
    NATS_URL: natsServer.url,
    REDIS_URL: redisServer.url,
    MQTT_HOST: "127.0.0.1",
    MQTT_PORT: "0",
    OPS_PORT: "0",
    OPS_HOST: "127.0.0.1",
    UMBRA_AUTH: "off",
    SHARD_PARTITIONS: "all",
    ...env,
  };
  const started = await Promise.allSettled([
    startService(["shard"], all),
    startService(["reply"], all),
    startService(["edge"], all),
  ]);
  const processes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([natsServer.stop(), redisServer.stop()]);
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed !== undefined) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  const [shard, reply, edge] = processes as [ServiceProcess, ServiceProcess, ServiceProcess];
  return { nats: natsServer, redis: redisServer, shard, reply, edge, env: all, stop };
};

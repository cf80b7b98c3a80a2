/**
 * `umbra all` with both listeners (plain and TLS on free ports), device and API
 * authentication on, and a data directory of its own (where it creates its development
 * CA): what the TLS and dialect tests start. Its own NATS and Redis; `stop` removes
 * everything.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpClient } from "./http.js";
import { type Server, startNats, startRedis } from "./servers.js";
import { type ServiceProcess, startService } from "./service.js";

export const ALL_IN_ONE_ADMIN_KEY = "admin-key-0123456789abcdef";

export interface AllInOne {
  readonly nats: Server;
  readonly redis: Server;
  readonly umbra: ServiceProcess;
  readonly dataDir: string;
  /** `mqtt://127.0.0.1:{port}` */
  readonly mqttUrl: string;
  readonly tlsPort: number;
  /** The development CA's PEM, which devices trust. */
  readonly ca: string;
  readonly caPath: string;
  /** The API with the admin key's scope (`*`); pass `{ key: ALL_IN_ONE_ADMIN_KEY }`. */
  readonly http: ReturnType<typeof httpClient>;
  readonly metricsUrl: string;
  stop(): Promise<void>;
}

export const startAllInOne = async (env: Record<string, string> = {}): Promise<AllInOne> => {
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const dataDir = await mkdtemp(join(tmpdir(), "umbra-all-in-one-"));
  const umbra = await startService(["all"], {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    MQTT_PORT: "0",
    MQTTS_PORT: "0",
    HTTP_PORT: "0",
    OPS_PORT: "0",
    MQTT_HOST: "127.0.0.1",
    UMBRA_AUTH: "on",
    UMBRA_DATA_DIR: dataDir,
    API_KEYS: `${ALL_IN_ONE_ADMIN_KEY}=*`,
    ...env,
  });
  const ready = umbra.ready.edge ?? {};
  const tlsPort = ready.mqttsPort as number;
  if (!(tlsPort > 0))
    throw new Error(`no mqttsPort in the edge's ready line: ${JSON.stringify(ready)}`);
  const caPath = join(dataDir, "tls", "ca.pem");
  return {
    nats,
    redis,
    umbra,
    dataDir,
    mqttUrl: `mqtt://127.0.0.1:${ready.mqttPort}`,
    tlsPort,
    ca: readFileSync(caPath, "utf8"),
    caPath,
    http: httpClient(`http://127.0.0.1:${umbra.ready.api?.httpPort}`),
    metricsUrl: `http://127.0.0.1:${umbra.ready.umbra?.opsPort}/metrics`,
    stop: async () => {
      await umbra.stop();
      await Promise.allSettled([nats.stop(), redis.stop()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};

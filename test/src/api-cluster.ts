import assert from "node:assert/strict";
import { httpClient } from "./http.js";
import { type Server, startNats, startRedis } from "./servers.js";
import { type ServiceProcess, startService } from "./service.js";

export interface ApiClusterOptions {
  /** `API_KEYS` of every API process. */
  readonly apiKeys: string;
  /** The key the products are created with. */
  readonly adminKey: string;
  /** Products created before the tests run (each must answer 201). */
  readonly products: readonly string[];
  /** Edge processes, named `edge-a`, `edge-b`, … (default 1). */
  readonly edges?: number;
  /** One entry per API process: its environment besides the common one (default one process). */
  readonly apis?: readonly Readonly<Record<string, string>>[];
  /** Environment of every edge process besides the common one. */
  readonly edgeEnv?: Readonly<Record<string, string>>;
}

export interface ApiCluster {
  readonly natsUrl: string;
  readonly redisUrl: string;
  /** `mqtt://…` of each edge, in order. */
  readonly mqttUrls: readonly string[];
  /** `http://…` of each API process, in order. */
  readonly apiUrls: readonly string[];
  /** An HTTP client per API process, in order. */
  readonly http: readonly ReturnType<typeof httpClient>[];
  /** Every Umbra process of the cluster, by name (`shard`, `reply`, `edge-a`, …, `api-0`, …). */
  readonly processes: ReadonlyMap<string, ServiceProcess>;
  /** Stops every process, then NATS and Redis. */
  stop(): Promise<void>;
}

/**
 * What the API's end-to-end tests run against: NATS and Redis of their own, a shard and
 * a reply service, the edges and API processes asked for (each a separate process), and
 * the products the tests use. A start that fails stops what it had started.
 */
export const startApiCluster = async (options: ApiClusterOptions): Promise<ApiCluster> => {
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const processes: ServiceProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([nats.stop(), redis.stop()]);
  };
  try {
    return await started(nats, redis, processes, options, stop);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
};

const started = async (
  nats: Server,
  redis: Server,
  processes: ServiceProcess[],
  options: ApiClusterOptions,
  stop: () => Promise<void>,
): Promise<ApiCluster> => {
  const env = { NATS_URL: nats.url, REDIS_URL: redis.url };
  const byName = new Map<string, ServiceProcess>();
  const track = async (name: string, service: Promise<ServiceProcess>): Promise<ServiceProcess> => {
    const p = await service;
    processes.push(p);
    byName.set(name, p);
    return p;
  };
  const edgeEnv = { ...env, MQTT_PORT: "0", MQTT_HOST: "127.0.0.1" };
  const apiEnv = { ...env, HTTP_PORT: "0", HTTP_HOST: "127.0.0.1", API_KEYS: options.apiKeys };
  const [, , edges, apis] = await Promise.all([
    track("shard", startService(["shard"], env)),
    track("reply", startService(["reply"], env)),
    Promise.all(
      Array.from({ length: options.edges ?? 1 }, (_, i) => {
        const name = `edge-${String.fromCharCode(97 + i)}`;
        return track(
          name,
          startService(["edge"], { ...edgeEnv, ...options.edgeEnv, EDGE_ID: name }),
        );
      }),
    ),
    Promise.all(
      (options.apis ?? [{}]).map((extra, i) =>
        track(`api-${i}`, startService(["api"], { ...apiEnv, ...extra })),
      ),
    ),
  ]);
  const mqttUrls = edges.map((edge) => `mqtt://127.0.0.1:${edge.ready.edge?.mqttPort}`);
  const apiUrls = apis.map((api) => `http://127.0.0.1:${api.ready.api?.httpPort}`);
  const http = apiUrls.map((url) => httpClient(url));
  for (const id of options.products) {
    const made = await (http[0] as ReturnType<typeof httpClient>)("POST", "/v1/products", {
      key: options.adminKey,
      body: { id },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
  }
  return {
    natsUrl: nats.url,
    redisUrl: redis.url,
    mqttUrls,
    apiUrls,
    http,
    processes: byName,
    stop,
  };
};

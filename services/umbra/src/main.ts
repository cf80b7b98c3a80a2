#!/usr/bin/env node
/**
 * `umbra <all|edge|shard|reply|api|device …>`: the one entry point of every deployable
 * process. `npm start` runs `umbra all`, every service in one process, for local use.
 */
import { ApiListener, apiConfig, apiLayer } from "@umbra/api";
import { EdgeListeners, edgeConfig, edgeLayer } from "@umbra/edge";
import { ReplyLive } from "@umbra/reply";
import {
  messageOf,
  NatsLive,
  Ops,
  OpsLive,
  RedisLive,
  runService,
  serviceLogger,
  text,
} from "@umbra/runtime";
import { shardConfig, shardLayer } from "@umbra/shard";
import { Effect, Layer } from "effect";
import { clusterCommand } from "./cluster.js";
import { deviceCommand } from "./device.js";
import { embeddedServers } from "./embedded.js";

const VERSION = "0.1.0";

const usage = `Usage: umbra <command>

Commands:
  all        run every service in one process (what \`npm start\` does)
  edge       run the MQTT edge
  shard      run a shard (device actors)
  reply      run the reply fan-out
  api        run the HTTP API for applications
  device     register devices and issue tokens (umbra device help)
  cluster    show the shard members and their partitions (umbra cluster status)
  version    print the version
  help       print this help

Configuration is read from the environment: NATS_URL, REDIS_URL, MQTT_PORT, MQTTS_PORT, MQTT_HOST,
HTTP_PORT, UMBRA_AUTH (on|off), API_KEYS, UMBRA_PARTITIONS, SHARD_PARTITIONS, EDGE_ID,
LOG_LEVEL, … (README).`;

/** The summary of `umbra all`, once every service is up; the API joins the ops hub. */
const announce = Layer.effectDiscard(
  Effect.gen(function* () {
    const logger = yield* serviceLogger("umbra");
    const edge = yield* EdgeListeners;
    const api = yield* ApiListener;
    const ops = yield* Ops;
    yield* Effect.acquireRelease(
      Effect.sync(() => ops.add({ service: "api", readiness: api.ready })),
      (remove) => Effect.sync(remove),
    );
    const mqtts =
      edge.mqttsPort === undefined ? undefined : `mqtts://${edge.host}:${edge.mqttsPort}`;
    logger.info(
      {
        mqtt: `mqtt://${edge.host}:${edge.mqttPort}`,
        ...(mqtts === undefined ? {} : { mqtts }),
        ...(edge.caPath === undefined ? {} : { caPath: edge.caPath }),
        http: `http://${api.host}:${api.httpPort}`,
        auth: edge.auth,
        opsPort: ops.port,
        firstDevice: "npm run umbra -- device add <product-id> <device-name>",
      },
      "ready",
    );
    if (process.stdout.isTTY)
      console.log(`
Umbra ${VERSION} is running: MQTT on ${edge.host}:${edge.mqttPort}${mqtts === undefined ? "" : `, MQTT over TLS on ${edge.host}:${edge.mqttsPort}`}, device authentication ${edge.auth};
HTTP API on http://${api.host}:${api.httpPort}/v1 (docs: /docs), API authentication ${api.auth}.${edge.caPath === undefined ? "" : `\nDevices trust the development CA ${edge.caPath} (e.g. mosquitto_pub --cafile, NODE_EXTRA_CA_CERTS).`}
Register a first device and get its token:  npm run umbra -- device add demo sensor-1 [--cert]
Stop with Ctrl-C.
`);
  }),
);

/**
 * Each command's Layer. Every configuration is read (and checked) first, before anything
 * connects; then the Layers build in order — `Layer.provide` builds what it is given
 * first — and release in reverse. A process has one NATS and one Redis connection and
 * one operations hub (`OPS_PORT`), whatever services it runs.
 */
const SERVICES = {
  /**
   * All services in one process (what `npm start` runs): the embedded servers (when no
   * NATS/Redis is configured), the connections and the ops hub, then shard and reply
   * before the edge so that the first device is served, then the API; on exit the API and
   * the edge stop first, the connections and the embedded servers last.
   */
  all: Layer.unwrap(
    Effect.gen(function* () {
      const [shard, edge, api] = [yield* shardConfig, yield* edgeConfig, yield* apiConfig];
      const dataDir = yield* text("UMBRA_DATA_DIR", ".umbra");
      return announce.pipe(
        Layer.provide(apiLayer(api)),
        Layer.provide(edgeLayer(edge)),
        Layer.provide(ReplyLive),
        Layer.provide(shardLayer(shard)),
        Layer.provide(Layer.mergeAll(NatsLive, RedisLive, OpsLive)),
        Layer.provide(embeddedServers(dataDir)),
      );
    }),
  ),
  edge: Layer.unwrap(
    Effect.map(edgeConfig, (config) =>
      edgeLayer(config).pipe(Layer.provide(Layer.mergeAll(NatsLive, OpsLive))),
    ),
  ),
  shard: Layer.unwrap(
    Effect.map(shardConfig, (config) =>
      shardLayer(config).pipe(Layer.provide(Layer.mergeAll(NatsLive, RedisLive, OpsLive))),
    ),
  ),
  reply: ReplyLive.pipe(Layer.provide(Layer.mergeAll(NatsLive, OpsLive))),
  // The API serves its own /healthz, /readyz and /metrics: no ops hub of its own.
  api: Layer.unwrap(
    Effect.map(apiConfig, (config) =>
      apiLayer(config).pipe(Layer.provide(Layer.mergeAll(NatsLive, RedisLive))),
    ),
  ),
} as const;

const main = async (argv: readonly string[]): Promise<number | undefined> => {
  const [command = "all", ...rest] = argv;
  switch (command) {
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return 0;
    case "version":
    case "--version":
      console.log(VERSION);
      return 0;
    case "device":
      return deviceCommand(rest);
    case "cluster":
      return clusterCommand(rest);
    default:
      break;
  }
  if (!(command in SERVICES)) {
    console.error(`umbra: unknown command '${command}'\n\n${usage}`);
    return 2;
  }
  if (rest.length > 0) {
    console.error(`umbra: unexpected argument '${rest[0]}'\n\n${usage}`);
    return 2;
  }
  const name = command as keyof typeof SERVICES;
  runService(`umbra ${name}`, name === "all" ? "umbra" : name, SERVICES[name]);
  return undefined;
};

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`umbra: ${messageOf(e)}`);
    process.exitCode = 1;
  },
);

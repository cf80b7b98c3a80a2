#!/usr/bin/env node
/**
 * `umbra <all|edge|shard|reply|api|device …>`: the one entry point of every deployable
 * process. `npm start` runs `umbra all`, every service in one process, for local use.
 */
import { apiService } from "@umbra/api";
import { edgeService } from "@umbra/edge";
import { replyService } from "@umbra/reply";
import {
  createLogger,
  LOG_LEVELS,
  type LogLevel,
  logLevel,
  opsListener,
  runMain,
  SharedOps,
} from "@umbra/runtime";
import { shardService } from "@umbra/shard";
import { Config, Effect } from "effect";
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

/**
 * All services in one process. Shard and reply start before the edge so the first
 * device is served; on exit the edge stops first and the embedded servers last. One
 * operations listener (`OPS_PORT`) serves them all: ready when every one is.
 */
const allServices = Effect.gen(function* () {
  const logger = createLogger("umbra", yield* logLevel);
  const dataDir = yield* Config.String("UMBRA_DATA_DIR").pipe(Config.withDefault(".umbra"));
  const ops = yield* opsListener(logger);
  yield* embeddedServers(dataDir, logger);
  const { edge, api } = yield* Effect.provideService(
    Effect.gen(function* () {
      yield* shardService;
      yield* replyService;
      const edge = yield* edgeService;
      const api = yield* apiService;
      return { edge, api };
    }),
    SharedOps,
    ops,
  );
  yield* Effect.acquireRelease(
    Effect.sync(() => ops.add({ service: "api", readiness: api.ready })),
    (remove) => Effect.sync(remove),
  );
  const mqtts = edge.mqttsPort === undefined ? undefined : `mqtts://${edge.host}:${edge.mqttsPort}`;
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
});

/** The launcher's own log level; the services validate LOG_LEVEL themselves. */
const envLogLevel = (): LogLevel => {
  const level = process.env.LOG_LEVEL;
  return (LOG_LEVELS as readonly string[]).includes(level ?? "") ? (level as LogLevel) : "info";
};

const SERVICES = {
  all: allServices,
  edge: edgeService,
  shard: shardService,
  reply: replyService,
  api: apiService,
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
  runMain(`umbra ${name}`, SERVICES[name], createLogger("umbra", envLogLevel()));
  return undefined;
};

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`umbra: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);

import { maxPayloadOf } from "@umbra/bus";
import {
  createLogger,
  instanceId,
  intInRange,
  logLevel,
  natsConnected,
  natsConnection,
  natsUrl,
  onOff,
  partitionCount,
  redisConnection,
  redisUrl,
  StartupError,
  serveOps,
} from "@umbra/runtime";
import { DeviceRegistry, Presence } from "@umbra/store";
import { Config, Effect } from "effect";
import { MAX_SESSION_EXPIRY_SECONDS } from "./limits.js";
import { NatsBackend } from "./natsBackend.js";
import { createEdgeServer } from "./server.js";
import { tlsConfig, watchTlsFiles } from "./tlsConfig.js";

const listenProblem = (e: unknown, host: string, port: number, variable = "MQTT_PORT"): string => {
  const code = (e as { code?: string }).code;
  const what = variable === "MQTT_PORT" ? "MQTT" : "MQTT over TLS";
  if (code === "EADDRINUSE")
    return `${what} port ${port} on ${host} is already in use: stop what holds it or set ${variable}`;
  if (code === "EACCES") return `not allowed to listen on ${what} port ${port}: set ${variable}`;
  return `cannot listen on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`;
};

/**
 * The edge service: MQTT listener, device authentication (registry in Redis unless
 * UMBRA_AUTH=off), topics onto the bus. On release it stops accepting, ends every
 * session, gives up on unanswered QoS 1 commands, then closes its connections.
 */
export const edgeService = Effect.gen(function* () {
  const logger = createLogger("edge", yield* logLevel);
  const port = yield* intInRange("MQTT_PORT", 1883, 0, 65_535);
  const host = yield* Config.String("MQTT_HOST").pipe(Config.withDefault("0.0.0.0"));
  const auth = yield* onOff("UMBRA_AUTH", "on");
  const partitions = yield* partitionCount;
  const edgeId = yield* instanceId("EDGE_ID");
  const maxPacketBytes = yield* intInRange("MQTT_MAX_PACKET_BYTES", 65_536, 1_024, 268_435_455);
  const maxInflight = yield* intInRange("MQTT_MAX_INFLIGHT", 32, 1, 65_535);
  const maxConnectBytes = yield* intInRange("MQTT_MAX_CONNECT_BYTES", 4_096, 256, 268_435_455);
  const maxSubscriptions = yield* intInRange("MQTT_MAX_SUBSCRIPTIONS", 128, 1, 1_000_000);
  const maxTopicBytes = yield* intInRange("MQTT_MAX_TOPIC_BYTES", 512, 64, 65_535);
  const authFailureLimit = yield* intInRange("MQTT_AUTH_FAILURE_LIMIT", 10, 0, 1_000_000);
  const authFailureWindowMs = yield* intInRange(
    "MQTT_AUTH_FAILURE_WINDOW_MS",
    60_000,
    1_000,
    86_400_000,
  );
  const authFailureDelayMs = yield* intInRange("MQTT_AUTH_FAILURE_DELAY_MS", 2_000, 0, 600_000);
  const authFailureTableSize = yield* intInRange(
    "MQTT_AUTH_FAILURE_TABLE_SIZE",
    10_000,
    1,
    10_000_000,
  );
  const maxPersistentSessions = yield* intInRange(
    "MQTT_MAX_PERSISTENT_SESSIONS",
    10_000,
    0,
    10_000_000,
  );
  const sessionExpirySeconds = yield* intInRange(
    "MQTT_SESSION_EXPIRY_S",
    3_600,
    0,
    MAX_SESSION_EXPIRY_SECONDS,
  );
  const tls = yield* tlsConfig;
  const retryAfterMs = yield* intInRange("COMMAND_RETRY_MS", 2_000, 50, 600_000);
  const deadlineMs = yield* intInRange("COMMAND_DEADLINE_MS", 10_000, 100, 3_600_000);

  const nc = yield* natsConnection(yield* natsUrl, `umbra-edge-${edgeId}`, logger);
  // A publish is forwarded with a header of a few dozen bytes: past the server's limit it
  // cannot be sent (dropped and counted), which a device would see as no PUBACK, ever.
  const maxPayload = maxPayloadOf(nc);
  if (maxPacketBytes + 1_024 > maxPayload)
    logger.warn(
      { maxPacketBytes, maxPayload },
      "MQTT_MAX_PACKET_BYTES is close to or above NATS's max_payload: the largest publishes cannot be forwarded",
    );
  // Redis holds the registry and where each device is connected; with auth off the edge
  // needs neither (function calls then record devices as not online).
  const redis =
    auth === "on"
      ? yield* redisConnection(yield* redisUrl, `umbra-edge-${edgeId}`, logger)
      : undefined;
  const backend = new NatsBackend(nc, logger, {
    edgeId,
    partitions,
    registry: redis === undefined ? undefined : new DeviceRegistry(redis),
    presence: redis === undefined ? undefined : new Presence(redis),
    retryAfterMs,
    deadlineMs,
  });
  yield* Effect.acquireRelease(
    Effect.sync(() => backend.start()),
    () => Effect.promise(() => backend.stop()),
  );
  const server = createEdgeServer({
    backend,
    logger,
    limits: {
      maxPacketBytes,
      maxInflight,
      maxConnectBytes,
      maxSubscriptions,
      maxTopicBytes,
      authFailureLimit,
      authFailureWindowMs,
      authFailureDelayMs,
      authFailureTableSize,
      maxPersistentSessions,
      sessionExpirySeconds,
    },
  });
  // Ready while listening with NATS (and, with auth on, Redis) connected.
  let listening = false;
  const opsPort = yield* serveOps(
    {
      service: "edge",
      readiness: () => {
        const redisStatus = redis?.status ?? "not used";
        return {
          ready: listening && natsConnected(nc) && (redis === undefined || redisStatus === "ready"),
          listening,
          nats: natsConnected(nc),
          redis: redisStatus,
          sessions: server.sessionCount,
        };
      },
    },
    logger,
  );
  const mqttPort = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const bound = await server.listen(port, host);
        listening = true;
        return bound;
      },
      catch: (e) => new StartupError(listenProblem(e, host, port)),
    }),
    () =>
      Effect.promise(() => {
        listening = false;
        return server.close();
      }),
  );
  // Bound after the plain port: closed with it (the server's close ends both).
  const mqttsPort = tls.enabled
    ? yield* Effect.tryPromise({
        try: async () => server.listenTls(tls.port, host, tls.listener),
        catch: (e) => new StartupError(listenProblem(e, host, tls.port, "MQTTS_PORT")),
      })
    : undefined;
  if (tls.enabled && tls.files !== undefined) {
    const files = tls.files;
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        watchTlsFiles(
          files,
          tls.reloadMs,
          (credentials) => server.setTlsCredentials(credentials),
          logger,
        ),
      ),
      (stop) => Effect.sync(stop),
    );
  }
  const caPath = tls.enabled ? tls.caPath : undefined;
  if (auth === "off")
    logger.warn("device authentication is off (UMBRA_AUTH=off): any client may connect");
  logger.info(
    {
      mqttPort,
      ...(mqttsPort === undefined ? {} : { mqttsPort }),
      ...(caPath === undefined ? {} : { caPath }),
      host,
      edgeId,
      auth,
      opsPort,
    },
    "ready",
  );
  return { mqttPort, mqttsPort, caPath, host, auth };
});

import { maxPayloadOf } from "@umbra/bus";
import {
  instanceId,
  intInRange,
  listenFailed,
  listenPort,
  Nats,
  natsConnected,
  onOff,
  partitionCount,
  Redis,
  RedisLive,
  serveOps,
  serviceLogger,
  text,
} from "@umbra/runtime";
import { DeviceRegistry, Presence } from "@umbra/store";
import { Config, Context, Effect, Layer } from "effect";
import { MAX_SESSION_EXPIRY_SECONDS } from "./limits.js";
import { NatsBackend } from "./natsBackend.js";
import { createEdgeServer } from "./server.js";
import { checkTlsEnv, tlsConfig, tlsEnv, watchTlsFiles } from "./tlsConfig.js";

/** The edge's configuration, read once: its environment and its TLS listener's. */
export const edgeConfig = Effect.gen(function* () {
  const env = yield* Config.all({
    port: listenPort("MQTT_PORT", 1883),
    host: text("MQTT_HOST", "0.0.0.0"),
    auth: onOff("UMBRA_AUTH", "on"),
    partitions: partitionCount,
    edgeId: instanceId("EDGE_ID"),
    limits: Config.all({
      maxPacketBytes: intInRange("MQTT_MAX_PACKET_BYTES", 65_536, 1_024, 268_435_455),
      maxInflight: intInRange("MQTT_MAX_INFLIGHT", 32, 1, 65_535),
      maxConnectBytes: intInRange("MQTT_MAX_CONNECT_BYTES", 4_096, 256, 268_435_455),
      maxSubscriptions: intInRange("MQTT_MAX_SUBSCRIPTIONS", 128, 1, 1_000_000),
      maxTopicBytes: intInRange("MQTT_MAX_TOPIC_BYTES", 512, 64, 65_535),
      authFailureLimit: intInRange("MQTT_AUTH_FAILURE_LIMIT", 10, 0, 1_000_000),
      authFailureWindowMs: intInRange("MQTT_AUTH_FAILURE_WINDOW_MS", 60_000, 1_000, 86_400_000),
      authFailureDelayMs: intInRange("MQTT_AUTH_FAILURE_DELAY_MS", 2_000, 0, 600_000),
      authFailureTableSize: intInRange("MQTT_AUTH_FAILURE_TABLE_SIZE", 10_000, 1, 10_000_000),
      maxPersistentSessions: intInRange("MQTT_MAX_PERSISTENT_SESSIONS", 10_000, 0, 10_000_000),
      sessionExpirySeconds: intInRange(
        "MQTT_SESSION_EXPIRY_S",
        3_600,
        0,
        MAX_SESSION_EXPIRY_SECONDS,
      ),
    }),
    retryAfterMs: intInRange("COMMAND_RETRY_MS", 2_000, 50, 600_000),
    deadlineMs: intInRange("COMMAND_DEADLINE_MS", 10_000, 100, 3_600_000),
    awsMaxInflight: intInRange("MQTT_AWS_MAX_INFLIGHT", 10, 1, 65_535),
    thingMaxPacks: intInRange("MQTT_THING_MAX_PACKS", 10, 1, 65_535),
    tls: tlsEnv,
  });
  return { ...env, tls: yield* checkTlsEnv(env.tls) };
});

export type EdgeConfig = Effect.Success<typeof edgeConfig>;

/** Where the edge listens, for `umbra all`'s summary. */
export class EdgeListeners extends Context.Service<
  EdgeListeners,
  {
    readonly mqttPort: number;
    readonly mqttsPort: number | undefined;
    readonly caPath: string | undefined;
    readonly host: string;
    readonly auth: "on" | "off";
  }
>()("@umbra/edge/EdgeListeners") {}

const edge = (config: EdgeConfig, redis: Redis["Service"] | undefined) =>
  Effect.gen(function* () {
    const { port, host, auth, partitions, edgeId, limits, retryAfterMs, deadlineMs } = config;
    const { awsMaxInflight, thingMaxPacks } = config;
    const { maxPacketBytes } = limits;
    const logger = yield* serviceLogger("edge");
    const tls = yield* tlsConfig(config.tls);
    const nc = yield* Nats;
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
    const backend = new NatsBackend(nc, logger, {
      edgeId,
      partitions,
      registry: redis === undefined ? undefined : new DeviceRegistry(redis),
      presence: redis === undefined ? undefined : new Presence(redis),
      retryAfterMs,
      deadlineMs,
      awsMaxInflight,
      // A thing upload is bounded by the packet that carries it.
      thingMaxPayloadBytes: maxPacketBytes,
      thingMaxPacks,
    });
    yield* Effect.acquireRelease(
      Effect.sync(() => backend.start()),
      () => Effect.promise(() => backend.stop()),
    );
    const server = createEdgeServer({ backend, logger, limits });
    // Ready while listening with NATS (and, with auth on, Redis) connected.
    let listening = false;
    const opsPort = yield* serveOps({
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
    });
    const mqttPort = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const bound = await server.listen(port, host);
          listening = true;
          return bound;
        },
        catch: (e) => listenFailed("MQTT", host, port, "MQTT_PORT", e),
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
          catch: (e) => listenFailed("MQTT over TLS", host, tls.port, "MQTTS_PORT", e),
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

/**
 * The edge service: MQTT listener, device authentication (registry in Redis unless
 * UMBRA_AUTH=off: then it needs no Redis at all), topics onto the bus. On release it
 * stops accepting, ends every session, gives up on unanswered QoS 1 commands, then
 * lets the connections close.
 */
export const edgeLayer = (config: EdgeConfig) =>
  config.auth === "on"
    ? Layer.effect(
        EdgeListeners,
        Effect.flatMap(Redis, (redis) => edge(config, redis)),
      ).pipe(Layer.provide(RedisLive))
    : Layer.effect(EdgeListeners, edge(config, undefined));

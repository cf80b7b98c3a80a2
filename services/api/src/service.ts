import type { Server } from "node:http";
import { GatewayClient, ShadowClient } from "@umbra/bus";
import { GATEWAY_CALL_TIMEOUT_MS } from "@umbra/core";
import {
  ConfigInvalid,
  createLogger,
  intInRange,
  limitedLog,
  logLevel,
  METRICS_CONTENT_TYPE,
  metricsText,
  natsConnection,
  natsUrl,
  onOff,
  partitionCount,
  type ReadyReport,
  redisConnection,
  redisUrl,
  StartupError,
} from "@umbra/runtime";
import { DeviceRegistry, Presence } from "@umbra/store";
import { Config, Effect } from "effect";
import { apiRoutes } from "./api.js";
import { DOCS_PAGE } from "./docs.js";
import { openEventStore } from "./events/store.js";
import { EventStreams } from "./events/streams.js";
import { type ApiKey, AuthThrottle, parseApiKeys, RateLimiter } from "./keys.js";
import { Metrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { Readiness } from "./readiness.js";
import { certificateRoutes } from "./routes/certificates.js";
import { subDeviceRoutes } from "./routes/subdevices.js";
import type { Route } from "./routing.js";
import * as S from "./schemas.js";
import { createApiServer, DEFAULT_TIMEOUTS } from "./server.js";

export const API_VERSION = "0.1.0";

const listenProblem = (e: unknown, host: string, port: number): string => {
  const code = (e as { code?: string }).code;
  if (code === "EADDRINUSE")
    return `HTTP port ${port} on ${host} is already in use: stop what holds it or set HTTP_PORT`;
  if (code === "EACCES") return `not allowed to listen on HTTP port ${port}: set HTTP_PORT`;
  return `cannot listen on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`;
};

const listen = (server: Server, port: number, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.removeListener("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });

const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections would hold close() open: idle ones go now, busy ones
    // after their answer.
    server.closeIdleConnections();
  });

/** The routes every API process serves besides the application API. */
export const operationRoutes = (readiness: Readiness, document: () => unknown): Route[] => [
  {
    method: "GET",
    path: "/healthz",
    operationId: "health",
    summary: "The process is up",
    tag: "operations",
    public: true,
    responses: { 200: { description: "up", schema: S.Health } },
    handle: () => ({ status: 200, body: { status: "ok" } }),
  },
  {
    method: "GET",
    path: "/readyz",
    operationId: "readiness",
    summary: "NATS and Redis reachable, every partition served by a shard",
    tag: "operations",
    public: true,
    responses: {
      200: { description: "ready", schema: S.Readiness },
      503: { description: "not ready", schema: S.Readiness },
    },
    handle: async () => {
      const report = await readiness.check(Date.now());
      return {
        status: report.ready ? 200 : 503,
        body: { status: report.ready ? "ready" : "not ready", checks: report.checks },
      };
    },
  },
  {
    method: "GET",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics",
    tag: "operations",
    public: true,
    responses: { 200: { description: "text exposition format", contentType: "text/plain" } },
    // The whole process's registry: the API's own, Node's, and NATS/Redis connection metrics.
    handle: async () => ({
      status: 200,
      text: await metricsText(),
      contentType: METRICS_CONTENT_TYPE,
    }),
  },
  {
    method: "GET",
    path: "/openapi.json",
    operationId: "openapi",
    summary: "This API's OpenAPI 3.1 document",
    tag: "operations",
    public: true,
    responses: { 200: { description: "the document", contentType: "application/json" } },
    handle: () => ({ status: 200, body: document() }),
  },
  {
    method: "GET",
    path: "/docs",
    operationId: "docs",
    summary: "A browsable page of the OpenAPI document",
    tag: "operations",
    public: true,
    responses: { 200: { description: "HTML", contentType: "text/html" } },
    handle: () => ({ status: 200, text: DOCS_PAGE, contentType: "text/html; charset=utf-8" }),
  },
];

/**
 * The API service: HTTP for applications, talking to shard actors over NATS exactly as
 * the edge does (never to shadows in Redis) and to the device registry in Redis. On
 * release it stops accepting, lets answers in flight finish, then closes connections.
 */
export const apiService = Effect.gen(function* () {
  const logger = createLogger("api", yield* logLevel);
  const port = yield* intInRange("HTTP_PORT", 8080, 0, 65_535);
  const host = yield* Config.String("HTTP_HOST").pipe(Config.withDefault("0.0.0.0"));
  // API_AUTH defaults to UMBRA_AUTH, so `UMBRA_AUTH=off npm start` opens both for trials.
  const umbraAuth = yield* onOff("UMBRA_AUTH", "on");
  const auth = yield* onOff("API_AUTH", umbraAuth);
  const keysText = yield* Config.String("API_KEYS").pipe(Config.withDefault(""));
  const parsedKeys = parseApiKeys(keysText);
  if (typeof parsedKeys === "string")
    return yield* Effect.fail(new ConfigInvalid({ variable: "API_KEYS", problem: parsedKeys }));
  const keys: Map<string, ApiKey> | undefined = auth === "on" ? parsedKeys : undefined;
  const rate = yield* intInRange("API_RATE_LIMIT", 60_000, 0, 60_000_000);
  const burst = yield* intInRange(
    "API_RATE_BURST",
    Math.max(1, Math.ceil(rate / 30)),
    1,
    60_000_000,
  );
  const authFailureRate = yield* intInRange("API_AUTH_FAILURES_PER_MINUTE", 30, 0, 60_000_000);
  const authFailureBurst = yield* intInRange("API_AUTH_FAILURE_BURST", 10, 1, 1_000_000);
  const authFailureAddresses = yield* intInRange(
    "API_AUTH_FAILURE_ADDRESSES",
    10_000,
    1,
    10_000_000,
  );
  const maxBodyBytes = yield* intInRange("API_MAX_BODY_BYTES", 16_384, 64, 16_777_216);
  // Above the engine's own limits (8 below desired, 5 in a twin value), which answer
  // with their precise error; this one only keeps parsing from recursing without end.
  const maxBodyDepth = yield* intInRange("API_MAX_BODY_DEPTH", 32, 8, 256);
  const timeoutMs = yield* intInRange("API_COMMAND_TIMEOUT_MS", 5_000, 100, 600_000);
  const headersMs = yield* intInRange(
    "API_HEADERS_TIMEOUT_MS",
    DEFAULT_TIMEOUTS.headersMs,
    100,
    600_000,
  );
  const requestMs = yield* intInRange(
    "API_REQUEST_TIMEOUT_MS",
    DEFAULT_TIMEOUTS.requestMs,
    100,
    3_600_000,
  );
  if (requestMs < headersMs)
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: "API_REQUEST_TIMEOUT_MS",
        problem: `must be at least API_HEADERS_TIMEOUT_MS (${headersMs}), got ${requestMs}`,
      }),
    );
  const keepAliveMs = yield* intInRange(
    "API_KEEPALIVE_TIMEOUT_MS",
    DEFAULT_TIMEOUTS.keepAliveMs,
    100,
    600_000,
  );
  const partitions = yield* partitionCount;
  const retentionSeconds = yield* intInRange("API_EVENTS_RETENTION_S", 3_600, 1, 31_536_000);
  const maxEventBytes = yield* intInRange(
    "API_EVENTS_MAX_BYTES",
    1_073_741_824,
    -1,
    1_125_899_906_842_624,
  );
  const storage = yield* Config.Literals(["file", "memory"], "API_EVENTS_STORAGE").pipe(
    Config.withDefault("file"),
  );
  const heartbeatMs = yield* intInRange("API_EVENTS_HEARTBEAT_MS", 15_000, 100, 600_000);
  const functionRetentionS = yield* intInRange("FUNCTION_RETENTION_S", 3_600, 0, 7 * 86_400);
  const gatewayTimeoutMs = yield* intInRange(
    "GATEWAY_TIMEOUT_MS",
    GATEWAY_CALL_TIMEOUT_MS,
    100,
    600_000,
  );

  const nc = yield* natsConnection(yield* natsUrl, "umbra-api", logger);
  const redis = yield* redisConnection(yield* redisUrl, "umbra-api", logger);
  const metrics = new Metrics();
  const readiness = new Readiness(nc, redis, partitions, { timeoutMs: 2_000, cacheMs: 5_000 });
  const store = yield* Effect.promise(() =>
    openEventStore(nc, { retentionSeconds, maxBytes: maxEventBytes, storage }, logger),
  );
  const events = new EventStreams({ nc, store, logger, metrics, heartbeatMs });
  const shadows = new ShadowClient(nc, partitions, timeoutMs);
  const registry = new DeviceRegistry(redis);
  const gateways = yield* Effect.acquireRelease(
    Effect.sync(
      () =>
        new GatewayClient(nc, {
          timeoutMs: gatewayTimeoutMs,
          onUnreadable: (subject, why) =>
            limitedLog(logger).warn({ subject, why }, "unreadable gateway reply dropped"),
        }),
    ),
    (client) => Effect.sync(() => client.close()),
  );
  const routes: Route[] = apiRoutes({
    shadows,
    registry,
    presence: new Presence(redis),
    nc,
    events,
    now: Date.now,
    functionRetentionMs: functionRetentionS * 1000,
  });
  routes.push(...subDeviceRoutes({ registry, shadows, gateways, nc, gatewayTimeoutMs }));
  routes.push(...certificateRoutes({ registry, nc, now: Date.now }));
  let document: unknown;
  routes.push(...operationRoutes(readiness, () => document));
  document = openApiDocument(routes, API_VERSION);

  const authThrottle = new AuthThrottle(authFailureRate, authFailureBurst, authFailureAddresses);
  metrics.throttledAddresses(() => authThrottle.size);
  const server = createApiServer({
    routes,
    logger,
    metrics,
    keys,
    limiter: new RateLimiter(rate, burst),
    authThrottle,
    maxBodyBytes,
    maxBodyDepth,
    timeouts: { headersMs, requestMs, keepAliveMs },
  });
  const httpPort = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => listen(server, port, host),
      catch: (e) => new StartupError(listenProblem(e, host, port)),
    }),
    // Event streams stay open until ended: end them first, or close() would wait forever.
    () =>
      Effect.promise(() => {
        events.closeAll();
        return close(server);
      }),
  );
  if (auth === "off")
    logger.warn("API authentication is off (API_AUTH=off): any caller may use the API");
  else if (parsedKeys.size === 0)
    logger.warn("no API keys configured (API_KEYS): every application request is refused (401)");
  const eventHistory = store === undefined ? "live only" : `${retentionSeconds} s`;
  logger.info({ httpPort, host, auth, keys: parsedKeys.size, eventHistory }, "ready");
  /** For `umbra all`'s operations listener: the same check as `/readyz`. */
  const ready = async (): Promise<ReadyReport> => {
    const { ready, checks } = await readiness.check(Date.now());
    return { ready, checks };
  };
  return { httpPort, host, auth, eventHistory, ready };
});

import type { Server } from "node:http";
import { GatewayClient, ShadowClient } from "@umbra/bus";
import { GATEWAY_CALL_TIMEOUT_MS } from "@umbra/core";
import {
  ConfigInvalid,
  intInRange,
  limitedLog,
  listenFailed,
  listenPort,
  METRICS_CONTENT_TYPE,
  metricsText,
  Nats,
  onOff,
  optionalIntInRange,
  optionalOnOff,
  partitionCount,
  type ReadyReport,
  Redis,
  serviceLogger,
  text,
} from "@umbra/runtime";
import { DeviceRegistry, listShadowNames, Presence } from "@umbra/store";
import { Config, Context, Effect, Layer, Redacted } from "effect";
import { apiRoutes } from "./api.js";
import { DOCS_PAGE } from "./docs.js";
import { openEventStore } from "./events/store.js";
import { EventStreams } from "./events/streams.js";
import { type ApiKey, AuthThrottle, parseApiKeys, RateLimiter } from "./keys.js";
import { Metrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { Readiness } from "./readiness.js";
import { certificateRoutes } from "./routes/certificates.js";
import { deviceCallRoutes } from "./routes/device-calls.js";
import { subDeviceRoutes } from "./routes/subdevices.js";
import type { Route } from "./routing.js";
import * as S from "./schemas.js";
import { createApiServer, DEFAULT_TIMEOUTS } from "./server.js";

export const API_VERSION = "0.1.0";

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

/** The API's environment, read once. */
const apiEnv = Config.all({
  port: listenPort("HTTP_PORT", 8080),
  host: text("HTTP_HOST", "0.0.0.0"),
  umbraAuth: onOff("UMBRA_AUTH", "on"),
  apiAuth: optionalOnOff("API_AUTH"),
  keysText: Config.Redacted("API_KEYS").pipe(Config.withDefault(Redacted.make(""))),
  rate: intInRange("API_RATE_LIMIT", 60_000, 0, 60_000_000),
  burst: optionalIntInRange("API_RATE_BURST", 1, 60_000_000),
  authFailureRate: intInRange("API_AUTH_FAILURES_PER_MINUTE", 30, 0, 60_000_000),
  authFailureBurst: intInRange("API_AUTH_FAILURE_BURST", 10, 1, 1_000_000),
  authFailureAddresses: intInRange("API_AUTH_FAILURE_ADDRESSES", 10_000, 1, 10_000_000),
  maxBodyBytes: intInRange("API_MAX_BODY_BYTES", 16_384, 64, 16_777_216),
  // Above the engine's own limits (8 below desired, 5 in a twin value), which answer
  // with their precise error; this one only keeps parsing from recursing without end.
  maxBodyDepth: intInRange("API_MAX_BODY_DEPTH", 32, 8, 256),
  timeoutMs: intInRange("API_COMMAND_TIMEOUT_MS", 5_000, 100, 600_000),
  headersMs: intInRange("API_HEADERS_TIMEOUT_MS", DEFAULT_TIMEOUTS.headersMs, 100, 600_000),
  requestMs: intInRange("API_REQUEST_TIMEOUT_MS", DEFAULT_TIMEOUTS.requestMs, 100, 3_600_000),
  keepAliveMs: intInRange("API_KEEPALIVE_TIMEOUT_MS", DEFAULT_TIMEOUTS.keepAliveMs, 100, 600_000),
  partitions: partitionCount,
  retentionSeconds: intInRange("API_EVENTS_RETENTION_S", 3_600, 1, 31_536_000),
  maxEventBytes: intInRange("API_EVENTS_MAX_BYTES", 1_073_741_824, -1, 1_125_899_906_842_624),
  storage: Config.Literals(["file", "memory"], "API_EVENTS_STORAGE").pipe(
    Config.withDefault("file"),
  ),
  heartbeatMs: intInRange("API_EVENTS_HEARTBEAT_MS", 15_000, 100, 600_000),
  functionRetentionS: intInRange("FUNCTION_RETENTION_S", 3_600, 0, 7 * 86_400),
  gatewayTimeoutMs: intInRange("GATEWAY_TIMEOUT_MS", GATEWAY_CALL_TIMEOUT_MS, 100, 600_000),
});

/** The API's configuration: the environment, checked as a whole, keys parsed. */
export const apiConfig = Effect.gen(function* () {
  const { keysText, umbraAuth, apiAuth, burst, ...env } = yield* apiEnv;
  // The secrets stay redacted until here: parse errors name a key by its first characters.
  const keys = parseApiKeys(Redacted.value(keysText));
  if (typeof keys === "string")
    return yield* Effect.fail(new ConfigInvalid({ variable: "API_KEYS", problem: keys }));
  if (env.requestMs < env.headersMs)
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: "API_REQUEST_TIMEOUT_MS",
        problem: `must be at least API_HEADERS_TIMEOUT_MS (${env.headersMs}), got ${env.requestMs}`,
      }),
    );
  return {
    ...env,
    // API_AUTH defaults to UMBRA_AUTH, so `UMBRA_AUTH=off npm start` opens both for trials.
    auth: apiAuth ?? umbraAuth,
    keys,
    burst: burst ?? Math.max(1, Math.ceil(env.rate / 30)),
  };
});

export type ApiConfig = Effect.Success<typeof apiConfig>;

/** Where the API listens and how ready it is, for `umbra all`. */
export class ApiListener extends Context.Service<
  ApiListener,
  {
    readonly httpPort: number;
    readonly host: string;
    readonly auth: "on" | "off";
    readonly eventHistory: string;
    /** The same check as `/readyz`. */
    readonly ready: () => Promise<ReadyReport>;
  }
>()("@umbra/api/ApiListener") {}

/**
 * The API service: HTTP for applications, talking to shard actors over NATS exactly as
 * the edge does (never to shadows in Redis) and to the device registry in Redis. On
 * release it stops accepting, lets answers in flight finish, then lets the connections
 * close.
 */
export const apiLayer = (config: ApiConfig) =>
  Layer.effect(
    ApiListener,
    Effect.gen(function* () {
      const { port, host, auth, partitions, retentionSeconds, timeoutMs, gatewayTimeoutMs } =
        config;
      const { headersMs, requestMs, keepAliveMs } = config;
      const parsedKeys = config.keys;
      const keys: Map<string, ApiKey> | undefined = auth === "on" ? parsedKeys : undefined;
      const logger = yield* serviceLogger("api");
      const nc = yield* Nats;
      const redis = yield* Redis;
      const metrics = new Metrics();
      const readiness = new Readiness(nc, redis, partitions, { timeoutMs: 2_000, cacheMs: 5_000 });
      const store = yield* Effect.promise(() =>
        openEventStore(
          nc,
          { retentionSeconds, maxBytes: config.maxEventBytes, storage: config.storage },
          logger,
        ),
      );
      const events = new EventStreams({
        nc,
        store,
        logger,
        metrics,
        heartbeatMs: config.heartbeatMs,
      });
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
        shadowNames: (deviceKey) => listShadowNames(redis, deviceKey),
        now: Date.now,
        functionRetentionMs: config.functionRetentionS * 1000,
      });
      routes.push(...subDeviceRoutes({ registry, shadows, gateways, nc, gatewayTimeoutMs }));
      routes.push(
        ...deviceCallRoutes({ registry, shadows, calls: gateways, timeoutMs: gatewayTimeoutMs }),
      );
      routes.push(...certificateRoutes({ registry, nc, now: Date.now }));
      let document: unknown;
      routes.push(...operationRoutes(readiness, () => document));
      document = openApiDocument(routes, API_VERSION);

      const authThrottle = new AuthThrottle(
        config.authFailureRate,
        config.authFailureBurst,
        config.authFailureAddresses,
      );
      metrics.throttledAddresses(() => authThrottle.size);
      const server = createApiServer({
        routes,
        logger,
        metrics,
        keys,
        limiter: new RateLimiter(config.rate, config.burst),
        authThrottle,
        maxBodyBytes: config.maxBodyBytes,
        maxBodyDepth: config.maxBodyDepth,
        timeouts: { headersMs, requestMs, keepAliveMs },
      });
      const httpPort = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => listen(server, port, host),
          catch: (e) => listenFailed("HTTP", host, port, "HTTP_PORT", e),
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
        logger.warn(
          "no API keys configured (API_KEYS): every application request is refused (401)",
        );
      const eventHistory = store === undefined ? "live only" : `${retentionSeconds} s`;
      logger.info({ httpPort, host, auth, keys: parsedKeys.size, eventHistory }, "ready");
      /** For `umbra all`'s operations listener: the same check as `/readyz`. */
      const ready = async (): Promise<ReadyReport> => {
        const { ready, checks } = await readiness.check(Date.now());
        return { ready, checks };
      };
      return { httpPort, host, auth, eventHistory, ready };
    }),
  );

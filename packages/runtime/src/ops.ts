import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Context, Effect, Layer, type Scope } from "effect";
import { optionalPort, text } from "./config.js";
import { type ListenFailed, listenFailed, messageOf } from "./errors.js";
import { Log, type Logger } from "./logger.js";
import { METRICS_CONTENT_TYPE, metricsText } from "./metrics.js";

/** What an operations route answers: a status and a JSON body, or text of a content type. */
export type OpsAnswer =
  | { readonly status: number; readonly body: unknown }
  | { readonly status: number; readonly text: string; readonly contentType: string };

export type OpsRoute = () => OpsAnswer | Promise<OpsAnswer>;
export type OpsRoutes = Readonly<Record<string, OpsRoute>>;

/** A service's readiness: `ready` and whatever explains it (connections, partitions…). */
export interface ReadyReport {
  readonly ready: boolean;
  readonly [detail: string]: unknown;
}

/** What a service contributes to its process's operations listener. */
export interface ServiceOps {
  readonly service: string;
  /** Ready = connected and serving; not while starting or draining. */
  readonly readiness: () => ReadyReport | Promise<ReadyReport>;
  /** Routes of its own besides `/healthz`, `/readyz`, `/metrics` (the shard: `/cluster`). */
  readonly routes?: OpsRoutes;
}

/**
 * The operations endpoints of one process, for every service in it: `/healthz` (alive),
 * `/readyz` (200 only when every service is ready), `/metrics` (the process's
 * Prometheus registry) and the services' own routes.
 */
export class OpsHub {
  readonly #services = new Map<string, ServiceOps>();
  /** The listener's port, once listening; undefined when there is none (OPS_PORT unset). */
  port: number | undefined;

  /** Adds a service; the returned function removes it. */
  add(service: ServiceOps): () => void {
    this.#services.set(service.service, service);
    return () => {
      if (this.#services.get(service.service) === service) this.#services.delete(service.service);
    };
  }

  route(path: string): OpsRoute | undefined {
    switch (path) {
      case "/healthz":
        return () => ({ status: 200, body: { status: "ok" } });
      case "/readyz":
        return () => this.#readiness();
      case "/metrics":
        return async () => ({
          status: 200,
          text: await metricsText(),
          contentType: METRICS_CONTENT_TYPE,
        });
    }
    for (const service of this.#services.values()) {
      const route = service.routes?.[path];
      if (route !== undefined) return route;
    }
    return undefined;
  }

  async #readiness(): Promise<OpsAnswer> {
    const services = [...this.#services.values()];
    const reports = await Promise.all(
      services.map((s) =>
        Promise.resolve()
          .then(s.readiness)
          .catch((e: unknown): ReadyReport => ({ ready: false, error: messageOf(e) })),
      ),
    );
    const ready = reports.length > 0 && reports.every((r) => r.ready);
    const byService = Object.fromEntries(services.map((s, i) => [s.service, reports[i]]));
    return { status: ready ? 200 : 503, body: { ready, services: byService } };
  }
}

/**
 * Deadlines of the ops listener. It may face the same network as the devices (a pod's
 * port), so a client dribbling a request must not hold a socket open: orchestrators'
 * probes send a whole request at once.
 */
export interface OpsTimeouts {
  readonly headersMs: number;
  readonly requestMs: number;
}

export const DEFAULT_OPS_TIMEOUTS: OpsTimeouts = Object.freeze({
  headersMs: 5_000,
  requestMs: 10_000,
});

/**
 * A small HTTP listener for operators and orchestrators, serving `hub`'s routes for the
 * life of the scope. GET only; an unknown path is 404; a route that throws is 503.
 * Resolves to the port it listens on (`0` asks for any free one).
 */
export const opsServer = (
  port: number,
  host: string,
  hub: OpsHub,
  logger: Logger,
  timeouts: OpsTimeouts = DEFAULT_OPS_TIMEOUTS,
): Effect.Effect<number, ListenFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        new Promise<Server>((resolve, reject) => {
          const options = {
            headersTimeout: timeouts.headersMs,
            requestTimeout: timeouts.requestMs,
            keepAliveTimeout: Math.min(5_000, timeouts.headersMs),
            // Node checks those deadlines every 30 s by default, which would let a slow
            // client live up to 30 s past them.
            connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
          };
          const server = createServer(options, (req, res) => {
            const path = (req.url ?? "/").split("?")[0] ?? "/";
            const route = hub.route(path);
            const reply = (answer: OpsAnswer) => {
              if ("text" in answer) {
                res.writeHead(answer.status, { "content-type": answer.contentType });
                res.end(answer.text);
              } else {
                res.writeHead(answer.status, { "content-type": "application/json" });
                res.end(JSON.stringify(answer.body));
              }
            };
            if (route === undefined)
              return reply({ status: 404, body: { error: `no route ${path}` } });
            if (req.method !== "GET" && req.method !== "HEAD")
              return reply({ status: 405, body: { error: "only GET" } });
            Promise.resolve()
              .then(route)
              .then(reply, (e: unknown) => {
                logger.warn({ path, err: messageOf(e) }, "ops route failed");
                reply({ status: 503, body: { error: messageOf(e) } });
              });
          });
          server.once("error", reject);
          server.listen(port, host, () => {
            server.off("error", reject);
            resolve(server);
          });
        }),
      catch: (e) => listenFailed("ops", host, port, "OPS_PORT", e),
    }),
    (server) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
  ).pipe(Effect.map((server) => (server.address() as AddressInfo).port));

/**
 * The process's one operations hub, which every service in it joins: listening on
 * `OPS_PORT` / `OPS_HOST` (default `0.0.0.0`) for the life of the process; with
 * `OPS_PORT` unset a hub without a listener (its `port` undefined).
 */
export class Ops extends Context.Service<Ops, OpsHub>()("@umbra/runtime/Ops") {}

export const OpsLive = Layer.effect(
  Ops,
  Effect.gen(function* () {
    const port = yield* optionalPort("OPS_PORT");
    const host = yield* text("OPS_HOST", "0.0.0.0");
    const hub = new OpsHub();
    if (port !== undefined) hub.port = yield* opsServer(port, host, hub, yield* Log);
    return hub;
  }),
);

/**
 * Adds a service's operations endpoints to the process's hub for the life of the scope.
 * Resolves to the hub's port, undefined when there is no listener.
 */
export const serveOps = (service: ServiceOps) =>
  Effect.gen(function* () {
    const hub = yield* Ops;
    yield* Effect.acquireRelease(
      Effect.sync(() => hub.add(service)),
      (remove) => Effect.sync(remove),
    );
    return hub.port;
  });

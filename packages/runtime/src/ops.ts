import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Effect, type Scope } from "effect";
import type { Logger } from "./logger.js";
import { StartupError } from "./main.js";

/** What an operations route answers: a status and a JSON body. */
export interface OpsAnswer {
  readonly status: number;
  readonly body: unknown;
}

export type OpsRoutes = Readonly<Record<string, () => OpsAnswer | Promise<OpsAnswer>>>;

/**
 * A small HTTP listener for operators and orchestrators — `/healthz`, `/readyz` and
 * whatever the service adds (the shard: `/cluster`) — beside the service's own
 * protocol, for the life of the scope. GET only, JSON answers; an unknown path is 404.
 * Resolves to the port it listens on (`0` asks for any free one).
 */
export const opsServer = (
  port: number,
  host: string,
  routes: OpsRoutes,
  logger: Logger,
): Effect.Effect<number, StartupError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer((req, res) => {
            const path = (req.url ?? "/").split("?")[0] ?? "/";
            const route = routes[path];
            const reply = (status: number, body: unknown) => {
              res.writeHead(status, { "content-type": "application/json" });
              res.end(JSON.stringify(body));
            };
            if (route === undefined) return reply(404, { error: `no route ${path}` });
            if (req.method !== "GET" && req.method !== "HEAD")
              return reply(405, { error: "only GET" });
            Promise.resolve()
              .then(route)
              .then(
                (answer) => reply(answer.status, answer.body),
                (e: unknown) => {
                  logger.warn(
                    { path, err: e instanceof Error ? e.message : String(e) },
                    "ops route failed",
                  );
                  reply(503, { error: e instanceof Error ? e.message : String(e) });
                },
              );
          });
          server.once("error", reject);
          server.listen(port, host, () => {
            server.off("error", reject);
            resolve(server);
          });
        }),
      catch: (e) =>
        new StartupError(
          (e as NodeJS.ErrnoException).code === "EADDRINUSE"
            ? `ops port ${port} on ${host} is already in use (OPS_PORT)`
            : `cannot listen on ops port ${port}: ${e instanceof Error ? e.message : String(e)}`,
        ),
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

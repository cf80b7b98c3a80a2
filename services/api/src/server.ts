import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { Duplex } from "node:stream";
import { ClusterUnavailableError } from "@umbra/bus";
import { type Logger, limitedLog } from "@umbra/runtime";
import { authenticator } from "./authenticate.js";
import type { ApiKey, AuthThrottle, RateLimiter } from "./keys.js";
import type { Metrics } from "./metrics.js";
import { type Problem, ProblemError, problem } from "./problems.js";
import { type BodyLimits, bodyReader } from "./request-body.js";
import { checkRouteParameters, uncoveredProduct } from "./route-scope.js";
import { type Reply, type Route, Router } from "./routing.js";

export interface ServerOptions extends BodyLimits {
  readonly routes: readonly Route[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `undefined`: authentication is off. */
  readonly keys: Map<string, ApiKey> | undefined;
  readonly limiter: RateLimiter;
  /** Failed authentications per source address; `undefined`: not throttled. */
  readonly authThrottle?: AuthThrottle;
  /** How long a client has to send a request, ms; default `DEFAULT_TIMEOUTS`. */
  readonly timeouts?: ServerTimeouts;
  readonly now?: () => number;
}

export interface ServerTimeouts {
  /** Until the request's headers are in (`API_HEADERS_TIMEOUT_MS`): slowloris. */
  readonly headersMs: number;
  /**
   * Until the whole request, body included, is in (`API_REQUEST_TIMEOUT_MS`). Only the
   * receiving: a response, an event stream too, may then take as long as it takes.
   */
  readonly requestMs: number;
  /** An idle kept-alive connection is closed after this (`API_KEEPALIVE_TIMEOUT_MS`). */
  readonly keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
};

/**
 * The request pipeline over node:http: route, authenticate, check the key's products,
 * rate-limit, read and validate the body against the route's schema, run the handler,
 * answer JSON or a problem document. Per request it is plain code over plain objects.
 */
export const createApiServer = (options: ServerOptions): Server => {
  const { logger, metrics, keys, limiter, authThrottle } = options;
  const now = options.now ?? Date.now;
  checkRouteParameters(options.routes);
  const router = new Router(options.routes);
  const readBody = bodyReader(options.routes, options);
  const authenticate =
    keys === undefined ? undefined : authenticator({ keys, authThrottle, metrics, logger, now });

  const send = (res: ServerResponse, reply: Reply): void => {
    const headers: Record<string, string> = { ...reply.headers };
    if (reply.stream !== undefined) {
      headers["content-type"] = "text/event-stream; charset=utf-8";
      headers["cache-control"] = "no-cache";
      // Proxies such as nginx would otherwise hold events back in their buffers.
      headers["x-accel-buffering"] = "no";
      res.writeHead(reply.status, headers);
      reply.stream(res);
      return;
    }
    let text: string | undefined;
    if (reply.text !== undefined) {
      text = reply.text;
      headers["content-type"] = reply.contentType ?? "text/plain; charset=utf-8";
    } else if (reply.body !== undefined) {
      text = JSON.stringify(reply.body);
      headers["content-type"] = reply.contentType ?? "application/json";
    }
    if (text !== undefined) headers["content-length"] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(text);
  };

  const sendProblem = (
    res: ServerResponse,
    p: Problem,
    headers: Record<string, string> = {},
  ): void =>
    send(res, {
      status: p.status,
      body: p,
      contentType: "application/problem+json",
      headers,
    });

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    seen: { operation: string },
  ): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://api");
    const match = router.match(req.method ?? "GET", url.pathname);
    if (match.kind === "bad-path") throw new ProblemError(problem("bad-request", "bad URL"));
    if (match.kind === "none")
      throw new ProblemError(problem("not-found", `no resource at ${url.pathname}`));
    if (match.kind === "method")
      throw new ProblemError(
        problem("method-not-allowed", `${req.method} is not allowed on ${url.pathname}`),
        { allow: match.allowed.join(", ") },
      );
    const { route, params } = match;
    seen.operation = route.operationId;
    let key: ApiKey | undefined;
    if (!route.public && authenticate !== undefined) {
      key = authenticate(req);
      const product = uncoveredProduct(key, params);
      if (product !== undefined)
        throw new ProblemError(
          problem("forbidden", `the API key does not cover product '${product}'`),
        );
    }
    if (!route.public) {
      const wait = limiter.take(key?.id ?? "anonymous", now());
      if (wait > 0)
        throw new ProblemError(
          problem("rate-limited", `too many requests for this API key; retry in ${wait} s`),
          { "retry-after": String(wait) },
        );
    }
    const body = await readBody(req, route);
    const reply = await route.handle({
      params,
      query: url.searchParams,
      headers: req.headers,
      body,
      key,
    });
    send(res, reply);
  };

  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      // How often Node looks for requests past those deadlines (its default, 30 s, let a
      // slowloris connection live up to 30 s past them); a pass over the open connections.
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    },
    (req, res) => {
      const started = process.hrtime.bigint();
      const seen = { operation: "unmatched" };
      const finish = () =>
        metrics.request(
          seen.operation,
          res.statusCode,
          Number(process.hrtime.bigint() - started) / 1e9,
        );
      handle(req, res, seen).then(finish, (e: unknown) => {
        let p: Problem;
        let headers: Record<string, string> = {};
        if (e instanceof ProblemError) {
          p = e.problem;
          headers = e.headers;
        } else if (e instanceof ClusterUnavailableError) {
          p = problem("cluster-unavailable", e.message);
          headers = { "retry-after": "1" };
        } else {
          p = problem("internal", "the request failed; the API's log says why");
          limitedLog(logger).error(
            { err: e instanceof Error ? (e.stack ?? e.message) : String(e), url: req.url },
            "request failed",
          );
        }
        if (p.status >= 500 && p.type !== problem("internal", "").type)
          limitedLog(logger).warn({ method: req.method, url: req.url, detail: p.detail }, p.title);
        else if (p.status < 500)
          logger.debug(
            { method: req.method, url: req.url, status: p.status, detail: p.detail },
            p.title,
          );
        if (res.headersSent) res.destroy();
        else {
          // An unread body would otherwise stall the connection: close it after answering.
          if (!req.complete) headers.connection = "close";
          sendProblem(res, p, headers);
        }
        finish();
      });
    },
  );
  // Requests Node refuses before they reach the pipeline (past a deadline above, headers
  // too large, not HTTP): a problem document too, written on the socket, logged at
  // debug like the pipeline's 4xx.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === "ECONNRESET" || !socket.writable || answering?.headersSent === true) {
      socket.destroy();
      return;
    }
    const p =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? problem("request-timeout", "the request was not sent in time; the connection is closed")
        : error.code === "HPE_HEADER_OVERFLOW"
          ? problem("headers-too-large", "the request headers are too large")
          : problem("bad-request", "the request is not valid HTTP/1.1");
    logger.debug({ code: error.code, status: p.status }, p.title);
    const body = JSON.stringify(p);
    socket.end(
      `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      // Written out: close, whatever the client still sends (the socket is half-open).
      () => socket.destroy(),
    );
  });
  return server;
};

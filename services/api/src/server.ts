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
import { Schema } from "effect";
import {
  type ApiKey,
  type AuthThrottle,
  addressGroup,
  covers,
  findKey,
  type RateLimiter,
} from "./keys.js";
import type { Metrics } from "./metrics.js";
import { type Problem, ProblemError, problem } from "./problems.js";
import { type Reply, type Route, Router } from "./routing.js";

export interface ServerOptions {
  readonly routes: readonly Route[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `undefined`: authentication is off. */
  readonly keys: Map<string, ApiKey> | undefined;
  readonly limiter: RateLimiter;
  /** Failed authentications per source address; `undefined`: not throttled. */
  readonly authThrottle?: AuthThrottle;
  readonly maxBodyBytes: number;
  /** How long a client has to send a request, ms; default `DEFAULT_TIMEOUTS`. */
  readonly timeouts?: ServerTimeouts;
  /** Deepest nesting of arrays and objects a JSON body may have (`API_MAX_BODY_DEPTH`). */
  readonly maxBodyDepth: number;
  readonly now?: () => number;
}

/**
 * Path parameters that name a product: the caller's key must cover each one, checked
 * before anything is looked up, so a product the key does not hold answers 403 whether
 * or not the device exists. A gateway and its sub-device (`pid`, `subPid`) are both.
 */
const PRODUCT_PARAMETERS: ReadonlySet<string> = new Set(["pid", "subPid"]);
/** Path parameters naming something inside the products above (a device, a call, a service). */
const SCOPED_PARAMETERS: ReadonlySet<string> = new Set([
  "dn",
  "subDn",
  "requestId",
  "identifier",
  "fingerprint",
]);

/**
 * Refuses a route whose path has a parameter neither list above knows: a new parameter
 * naming a product must join `PRODUCT_PARAMETERS`, or it would escape the key's scope.
 */
export const checkRouteParameters = (routes: readonly Route[]): void => {
  for (const route of routes)
    for (const [, name] of route.path.matchAll(/\{(\w+)\}/g))
      if (!PRODUCT_PARAMETERS.has(name as string) && !SCOPED_PARAMETERS.has(name as string))
        throw new Error(
          `route ${route.operationId}: path parameter '${name}' is not known to name a product or not: add it to PRODUCT_PARAMETERS or SCOPED_PARAMETERS`,
        );
};

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

const decodeOptions = { onExcessProperty: "error", errors: "first" } as const;

/** `application/merge-patch+json; charset=utf-8` → `application/merge-patch+json`. */
const mediaType = (header: string | undefined): string =>
  (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";

/** Reads the body up to `limit` bytes; a larger one is a 413 problem. */
const readBody = (req: IncomingMessage, limit: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    if (declared > limit) {
      reject(
        new ProblemError(
          problem("too-large", `the body is ${declared} bytes; the limit is ${limit}`),
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new ProblemError(problem("too-large", `the body exceeds ${limit} bytes`)));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

/** Refuses ill-formed UTF-8 instead of storing U+FFFD in its place (a BOM is dropped). */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Whether JSON text nests arrays and objects deeper than `max`, in one pass without
 * recursion: parsing and schema-checking a deeper body recurse once per level, and an
 * 8,000-deep array overflowed the stack (a 500). Brackets inside strings do not count.
 */
export const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // A backslash: the next character is escaped.
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
};

const bearer = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
};

/**
 * The request pipeline over node:http: route, authenticate, rate-limit, read and
 * validate the body against the route's schema, run the handler, answer JSON or a
 * problem document. Per request it is plain code over plain objects.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Whether a string of `value` (a key or a value, at any depth) holds a lone surrogate. */
const hasLoneSurrogate = (value: unknown): boolean => {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === "string") {
      if (LONE_SURROGATE.test(item)) return true;
    } else if (Array.isArray(item)) {
      for (const element of item) stack.push(element);
    } else if (item !== null && typeof item === "object") {
      for (const [key, element] of Object.entries(item)) {
        if (LONE_SURROGATE.test(key)) return true;
        stack.push(element);
      }
    }
  }
  return false;
};

export const createApiServer = (options: ServerOptions): Server => {
  const { logger, metrics, keys, limiter, authThrottle, maxBodyBytes, maxBodyDepth } = options;
  const now = options.now ?? Date.now;
  checkRouteParameters(options.routes);
  const router = new Router(options.routes);
  const decoders = new Map<Route, (input: unknown) => ReturnType<typeof decodeBody>>();
  const decodeBody = (schema: Schema.Top, input: unknown) =>
    Schema.decodeUnknownResult(schema as Schema.Codec<unknown>)(input, decodeOptions);
  for (const route of options.routes)
    if (route.body !== undefined) {
      const schema = route.body.schema;
      decoders.set(route, (input) => decodeBody(schema, input));
    }

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
    if (!route.public && keys !== undefined) {
      // Before the key is read: a throttled address learns nothing from its guesses.
      const address = addressGroup(req.socket.remoteAddress ?? "");
      const throttled = authThrottle?.wait(address, now()) ?? 0;
      if (throttled > 0) {
        metrics.authRefused.throttled.value++;
        throw new ProblemError(
          problem(
            "rate-limited",
            `too many requests with an invalid API key from this address; retry in ${throttled} s`,
          ),
          { "retry-after": String(throttled) },
        );
      }
      const secret = bearer(req.headers.authorization);
      if (secret === undefined) {
        metrics.authRefused["missing-key"].value++;
        throw new ProblemError(
          problem("unauthorized", "send an API key as 'Authorization: Bearer <key>'"),
          { "www-authenticate": 'Bearer realm="umbra"' },
        );
      }
      key = findKey(keys, secret);
      if (key === undefined) {
        metrics.authRefused["invalid-key"].value++;
        // Once per address and episode, when its last attempt is used: not per request.
        if (authThrottle?.failed(address, now()) === true)
          logger.warn({ address }, "invalid API keys from this address: throttled");
        throw new ProblemError(problem("unauthorized", "the API key is not valid"), {
          "www-authenticate": 'Bearer realm="umbra", error="invalid_token"',
        });
      }
      for (const name in params)
        if (PRODUCT_PARAMETERS.has(name) && !covers(key, params[name] as string))
          throw new ProblemError(
            problem("forbidden", `the API key does not cover product '${params[name]}'`),
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
    let body: unknown;
    if (route.body !== undefined) {
      const type = mediaType(req.headers["content-type"]);
      if (type !== route.body.contentType)
        throw new ProblemError(
          problem(
            "unsupported-media-type",
            `send the body as ${route.body.contentType}${type === "" ? "" : `, not ${type}`}`,
          ),
          { "accept-patch": route.body.contentType },
        );
      const bytes = await readBody(req, maxBodyBytes);
      let text: string;
      try {
        text = utf8.decode(bytes);
      } catch {
        throw new ProblemError(problem("bad-json", "the body is not valid UTF-8"));
      }
      if (nestsDeeperThan(text, maxBodyDepth))
        throw new ProblemError(
          problem(
            "bad-json",
            `the body nests arrays and objects deeper than ${maxBodyDepth} levels`,
          ),
        );
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new ProblemError(
          problem("bad-json", `the body is not valid JSON: ${(e as Error).message}`),
        );
      }
      // JSON can spell a lone UTF-16 surrogate (\ud800) that UTF-8 cannot: such a string
      // breaks URLs, keys and the device's UTF-8 later on. Only bodies that spell a
      // surrogate escape at all are walked.
      if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(parsed))
        throw new ProblemError(
          problem(
            "bad-json",
            "the body has a string with a lone UTF-16 surrogate (not Unicode text)",
          ),
        );
      const decoded = (decoders.get(route) as (input: unknown) => ReturnType<typeof decodeBody>)(
        parsed,
      );
      if (decoded._tag === "Failure")
        throw new ProblemError(
          problem(
            "bad-request",
            `the body does not match ${route.body.contentType} schema: ${decoded.failure.message.replace(
              /\s*\n\s*/g,
              " ",
            )}`,
          ),
        );
      body = decoded.success;
    }
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

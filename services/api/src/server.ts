import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ClusterUnavailableError } from "@umbra/bus";
import { type Logger, limitedLog } from "@umbra/runtime";
import { Schema } from "effect";
import { type ApiKey, covers, findKey, type RateLimiter } from "./keys.js";
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
  readonly maxBodyBytes: number;
  readonly now?: () => number;
}

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
export const createApiServer = (options: ServerOptions): Server => {
  const { logger, metrics, keys, limiter, maxBodyBytes } = options;
  const now = options.now ?? Date.now;
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
      const secret = bearer(req.headers.authorization);
      if (secret === undefined)
        throw new ProblemError(
          problem("unauthorized", "send an API key as 'Authorization: Bearer <key>'"),
          { "www-authenticate": 'Bearer realm="umbra"' },
        );
      key = findKey(keys, secret);
      if (key === undefined)
        throw new ProblemError(problem("unauthorized", "the API key is not valid"), {
          "www-authenticate": 'Bearer realm="umbra", error="invalid_token"',
        });
      const pid = params.pid;
      if (pid !== undefined && !covers(key, pid))
        throw new ProblemError(problem("forbidden", `the API key does not cover product '${pid}'`));
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
      let parsed: unknown;
      try {
        parsed = JSON.parse(bytes.toString("utf8"));
      } catch (e) {
        throw new ProblemError(
          problem("bad-json", `the body is not valid JSON: ${(e as Error).message}`),
        );
      }
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

  return createServer((req, res) => {
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
  });
};

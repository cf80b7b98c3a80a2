/**
 * A request's body, from bytes to the route's decoded schema type, refused at the first
 * thing wrong: content type (415), size (413), UTF-8, nesting depth, JSON syntax, lone
 * surrogates (400), then the schema (400, no unknown members).
 */
import type { IncomingMessage } from "node:http";
import { Schema } from "effect";
import { ProblemError, problem } from "./problems.js";
import type { Route } from "./routing.js";

export interface BodyLimits {
  /** Largest body in bytes (`API_MAX_BODY_BYTES`). */
  readonly maxBodyBytes: number;
  /** Deepest nesting of arrays and objects a JSON body may have (`API_MAX_BODY_DEPTH`). */
  readonly maxBodyDepth: number;
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

type Decoded = ReturnType<ReturnType<typeof Schema.decodeUnknownResult>>;

/**
 * The body reader of a route table: a route's decoder is made once, at start. The
 * returned function answers a route without a body with `undefined`.
 */
export const bodyReader = (
  routes: readonly Route[],
  limits: BodyLimits,
): ((req: IncomingMessage, route: Route) => Promise<unknown>) => {
  const { maxBodyBytes, maxBodyDepth } = limits;
  const decoders = new Map<Route, (input: unknown) => Decoded>();
  for (const route of routes)
    if (route.body !== undefined) {
      const decode = Schema.decodeUnknownResult(route.body.schema as Schema.Codec<unknown>);
      decoders.set(route, (input) => decode(input, decodeOptions));
    }

  return async (req, route) => {
    if (route.body === undefined) return undefined;
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
        problem("bad-json", `the body nests arrays and objects deeper than ${maxBodyDepth} levels`),
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
    const decoded = (decoders.get(route) as (input: unknown) => Decoded)(parsed);
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
    return decoded.success;
  };
};

import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Schema } from "effect";
import type { ApiKey } from "./keys.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What a handler gets: path parameters, query, headers, and the body already decoded. */
export interface RequestContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  /** The caller's API key; `undefined` on public routes and when authentication is off. */
  readonly key: ApiKey | undefined;
}

/** What a handler answers: a JSON body (or text with its content type), status, headers. */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** Sent as it is, with `contentType`, instead of a JSON body. */
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Instead of a body: a Server-Sent Events stream. The status and headers (with
   * `text/event-stream`) are sent, then this writes the events until either side ends.
   */
  readonly stream?: (res: ServerResponse) => void;
}

export interface QueryParameter {
  readonly name: string;
  readonly description: string;
  readonly schema: Record<string, unknown>;
}

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: Schema.Top;
  /** Default `application/json` when a schema is given. */
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** An event stream's event types and the schema of each one's data (for the document). */
  readonly events?: Readonly<Record<string, Schema.Top>>;
}

/** One operation of the API: what the router, the validator and the OpenAPI document read. */
export interface Route {
  readonly method: Method;
  /** `/v1/products/{pid}/devices/{dn}/shadow` */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: string;
  /** No API key needed (health, docs). */
  readonly public?: boolean;
  readonly query?: readonly QueryParameter[];
  /** Honoured headers, for the document (`If-Match`). */
  readonly requestHeaders?: readonly QueryParameter[];
  readonly body?: { readonly contentType: string; readonly schema: Schema.Top };
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  readonly handle: (ctx: RequestContext) => Promise<Reply> | Reply;
}

/** A parameter's place in a path: a whole segment, or a segment's start before a literal (`{id}:invoke`). */
interface ParameterSegment {
  readonly suffix: string;
}

interface Compiled {
  readonly route: Route;
  /** Literal segments, or where a parameter goes. */
  readonly segments: readonly (string | ParameterSegment)[];
  readonly names: readonly string[];
}

const PARAMETER = /^\{(\w+)\}(.*)$/;

export type Match =
  | { readonly kind: "found"; readonly route: Route; readonly params: Record<string, string> }
  | { readonly kind: "method"; readonly allowed: readonly Method[] }
  | { readonly kind: "none" }
  | { readonly kind: "bad-path" };

/** Matches a request path against the route table, segment by segment. */
export class Router {
  readonly #compiled: Compiled[];

  constructor(routes: readonly Route[]) {
    this.#compiled = routes.map((route) => {
      const names: string[] = [];
      const segments = route.path
        .split("/")
        .slice(1)
        .map((s): string | ParameterSegment => {
          const parameter = PARAMETER.exec(s);
          if (parameter === null) return s;
          names.push(parameter[1] as string);
          return { suffix: parameter[2] as string };
        });
      return { route, segments, names };
    });
  }

  match(method: string, pathname: string): Match {
    const raw = pathname.split("/").slice(1);
    let parts: string[];
    try {
      parts = raw.map((s) => decodeURIComponent(s));
    } catch {
      return { kind: "bad-path" };
    }
    const allowed: Method[] = [];
    for (const c of this.#compiled) {
      if (c.segments.length !== parts.length) continue;
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const want = c.segments[i] as string | ParameterSegment;
        const part = parts[i] as string;
        if (
          typeof want === "string"
            ? want !== part
            : part.length <= want.suffix.length || !part.endsWith(want.suffix)
        ) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (c.route.method !== method) {
        allowed.push(c.route.method);
        continue;
      }
      const params: Record<string, string> = {};
      let p = 0;
      for (let i = 0; i < parts.length; i++) {
        const want = c.segments[i];
        if (typeof want !== "string")
          params[c.names[p++] as string] = (parts[i] as string).slice(
            0,
            (parts[i] as string).length - (want as ParameterSegment).suffix.length,
          );
      }
      return { kind: "found", route: c.route, params };
    }
    return allowed.length > 0 ? { kind: "method", allowed } : { kind: "none" };
  }
}

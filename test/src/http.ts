import { withDeadline } from "./wait.js";

/** A small HTTP client for the API tests: JSON in, status + headers + parsed body out. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the answer is JSON, else the text. */
  readonly body: unknown;
}

export interface HttpOptions {
  /** Sent as JSON unless a string. */
  readonly body?: unknown;
  readonly type?: string;
  /** Bearer API key. */
  readonly key?: string;
  readonly headers?: Record<string, string>;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

const socketClosed = (e: unknown): boolean => {
  const cause = (e as { cause?: { code?: string } }).cause;
  return (
    cause?.code === "ECONNRESET" || cause?.code === "UND_ERR_SOCKET" || cause?.code === "EPIPE"
  );
};

export const httpClient =
  (base: string) =>
  async (method: string, path: string, options: HttpOptions = {}): Promise<HttpAnswer> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] = options.type ?? "application/json";
    }
    const send = () =>
      fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    let res: Response;
    try {
      res = await send();
    } catch (e) {
      // A kept-alive connection the server closed just as it was reused: an idempotent
      // request is sent again once, as HTTP clients do (RFC 9110 §9.2.2).
      if (!IDEMPOTENT.has(method) || !socketClosed(e)) throw e;
      res = await send();
    }
    const text = await res.text();
    const json = /json/.test(res.headers.get("content-type") ?? "");
    return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
  };

/** One Server-Sent Event as received. */
export interface SseEvent {
  readonly id: string | undefined;
  /** `message` when the event named none. */
  readonly event: string;
  readonly data: string;
}

/**
 * An open Server-Sent Events stream: records events and comments as they arrive and lets
 * a test wait for the next one, in order, with a deadline.
 */
export class SseStream {
  readonly status: number;
  readonly headers: Headers;
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  readonly #abort: AbortController;
  #cursor = 0;
  #commentCursor = 0;
  #ended = false;
  #waiters: (() => void)[] = [];

  constructor(res: Response, abort: AbortController) {
    this.status = res.status;
    this.headers = res.headers;
    this.#abort = abort;
    void this.#read(res);
  }

  async #read(res: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    let fields: { id?: string; event?: string; data: string[] } = { data: [] };
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (;;) {
          const end = buffer.search(/\r\n|\n|\r/);
          if (end < 0) break;
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
          if (line === "") {
            if (fields.data.length > 0)
              this.events.push({
                id: fields.id,
                event: fields.event ?? "message",
                data: fields.data.join("\n"),
              });
            fields = { data: [] };
            this.#wake();
            continue;
          }
          if (line.startsWith(":")) {
            this.comments.push(line.slice(1).trim());
            this.#wake();
            continue;
          }
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (name === "data") fields.data.push(value);
          else if (name === "id") fields.id = value;
          else if (name === "event") fields.event = value;
        }
      }
    } catch {
      // aborted by close(), or the connection dropped
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async #until<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const wait = async (): Promise<T> => {
      for (;;) {
        const found = find();
        if (found !== undefined) return found;
        if (this.#ended) throw new Error(`the stream ended before ${what}`);
        await new Promise<void>((wake) => this.#waiters.push(wake));
      }
    };
    return withDeadline(
      wait(),
      timeoutMs,
      () => `${what}: not within ${timeoutMs} ms (events: ${JSON.stringify(this.events)})`,
    );
  }

  /** The next event (after those already taken), optionally the next of a type. */
  next(event?: string, timeoutMs = 10_000): Promise<SseEvent> {
    return this.#until(
      () => {
        while (this.#cursor < this.events.length) {
          const e = this.events[this.#cursor++] as SseEvent;
          if (event === undefined || e.event === event) return e;
        }
        return undefined;
      },
      timeoutMs,
      `an event${event === undefined ? "" : ` '${event}'`}`,
    );
  }

  /** The next comment line (`: …`), after those already taken. */
  nextComment(timeoutMs = 10_000): Promise<string> {
    return this.#until(
      () =>
        this.#commentCursor < this.comments.length
          ? this.comments[this.#commentCursor++]
          : undefined,
      timeoutMs,
      "a comment",
    );
  }

  /** Resolves when the server ends the stream. */
  ended(timeoutMs = 10_000): Promise<true> {
    return this.#until(() => (this.#ended ? true : undefined), timeoutMs, "the end of the stream");
  }

  close(): void {
    this.#abort.abort();
  }
}

/**
 * Opens `GET path` as an event stream: an `SseStream` when the answer is 200, else the
 * answer read whole (a problem document).
 */
export const openEventStream = async (
  base: string,
  path: string,
  options: { key?: string; lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<SseStream | HttpAnswer> => {
  const headers: Record<string, string> = { accept: "text/event-stream", ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId;
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, { headers, signal: abort.signal });
  if (res.status === 200) return new SseStream(res, abort);
  const text = await res.text();
  const json = /json/.test(res.headers.get("content-type") ?? "");
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
};

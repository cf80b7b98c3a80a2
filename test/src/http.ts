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
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    const json = /json/.test(res.headers.get("content-type") ?? "");
    return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
  };

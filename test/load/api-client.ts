/** HTTP to the API from a load thread: kept-alive connections (node:http costs far less than fetch). */
import { Agent, request } from "node:http";

export interface ApiAnswer {
  readonly status: number;
  readonly body: string;
}

/** A reused connection was reset before the request reached the server. */
class StaleConnection extends Error {
  constructor() {
    super("a kept-alive connection was reset before the request reached the server");
  }
}

export class ApiClient {
  // Idle connections are closed after 2 s, before the server's keep-alive timeout (node's
  // default, 5 s) closes them under a request about to be sent.
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(apiUrl: string, options: { readonly maxSockets?: number } = {}) {
    this.base = new URL(apiUrl);
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? 64,
      timeout: 2000,
    });
  }

  /**
   * One request with an optional JSON body; the answer's body read whole. A kept-alive
   * connection the server closed as idle just as the request went out fails with
   * ECONNRESET before the server read anything (node's `request.reusedSocket` case):
   * that request is sent once more on a connection of its own. Whether it was then
   * applied exactly once is what the run's final shadow check verifies.
   */
  async call(
    method: string,
    path: string,
    json?: unknown,
    contentType = "application/json",
  ): Promise<ApiAnswer> {
    const body = json === undefined ? undefined : JSON.stringify(json);
    try {
      return await this.send(method, path, body, contentType);
    } catch (error) {
      if (!(error instanceof StaleConnection)) throw error;
      return this.send(method, path, body, contentType, false);
    }
  }

  private send(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string,
    agent: Agent | false = this.agent,
  ): Promise<ApiAnswer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          headers:
            body === undefined
              ? {}
              : { "content-type": contentType, "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on("error", reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", (error: NodeJS.ErrnoException) =>
        reject(req.reusedSocket && error.code === "ECONNRESET" ? new StaleConnection() : error),
      );
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

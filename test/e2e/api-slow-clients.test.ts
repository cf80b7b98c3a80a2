/**
 * Slow clients cannot hold the API's connections (issue 13, finding 6): a client sending
 * its headers one byte at a time (slowloris), or its body, is cut at its deadline
 * (API_HEADERS_TIMEOUT_MS, API_REQUEST_TIMEOUT_MS); an event stream, a response as long
 * as the client reads it, lives on past them. Raw sockets against a real API process.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type httpClient,
  openEventStream,
  SseStream,
  startApiCluster,
  withDeadline,
} from "../src/harness.js";

const KEY = "slow-clients-admin-key-0123456789";
const PID = "slow";
const HEADERS_MS = 1_000;
const REQUEST_MS = 1_500;
const HEARTBEAT_MS = 300;

let cluster: ApiCluster;
type Http = ReturnType<typeof httpClient>;
const http = (): Http => cluster.http[0] as Http;

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${KEY}=*`,
    adminKey: KEY,
    products: [PID],
    apis: [
      {
        API_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
        API_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
        API_EVENTS_HEARTBEAT_MS: String(HEARTBEAT_MS),
      },
    ],
  });
  const made = await http()("POST", `/v1/products/${PID}/devices`, {
    key: KEY,
    body: { name: "d1" },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
});

after(async () => {
  await cluster?.stop();
});

/**
 * Connects, writes `head` at once, then `drip` one byte every 100 ms for as long as the
 * connection stays open (at most `drip.length` bytes). Resolves with what the server sent
 * once it closes the connection; the drip never finishes the request by itself.
 */
const dribble = (head: string, drip: string, deadlineMs: number): Promise<string> => {
  const url = new URL(cluster.apiUrls[0] as string);
  const socket: Socket = connect({ host: url.hostname, port: Number(url.port) });
  let received = "";
  let at = 0;
  const timer = setInterval(() => {
    if (at < drip.length && !socket.destroyed) socket.write(drip[at++] as string);
  }, 100);
  const closed = new Promise<string>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(received));
  });
  socket.once("connect", () => socket.write(head));
  return withDeadline(
    closed,
    deadlineMs,
    () => `the API kept the connection open past ${deadlineMs} ms (sent ${at} bytes)`,
  ).finally(() => {
    clearInterval(timer);
    socket.destroy();
  });
};

describe("slow clients", () => {
  it("a client sending its headers a byte at a time is answered 408 and closed", async () => {
    // 400 bytes at 100 ms each would take 40 s; the headers deadline is 1 s.
    const answer = await dribble(
      "GET /healthz HTTP/1.1\r\nHost: api\r\n",
      `X-Slow: ${"a".repeat(400)}`,
      10_000,
    );
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /\r\ncontent-type: application\/problem\+json\r\n/i);
    const problem = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
    assert.equal(problem.type, "urn:umbra:problem:request-timeout");
    assert.equal(problem.status, 408);
  });

  it("a client sending its body a byte at a time is cut at the request deadline", async () => {
    const body = JSON.stringify({ desired: { slow: "a".repeat(400) } });
    const head =
      `PATCH /v1/products/${PID}/devices/d1/shadow HTTP/1.1\r\nHost: api\r\n` +
      `Authorization: Bearer ${KEY}\r\nContent-Type: application/merge-patch+json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`;
    const answer = await dribble(head, body, 10_000);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    // Nothing of the partial body was written.
    const shadow = await http()("GET", `/v1/products/${PID}/devices/d1/shadow`, { key: KEY });
    assert.equal(shadow.status, 404, JSON.stringify(shadow.body));
  });

  it("what Node refuses before the pipeline (not HTTP, headers too large) is a problem document too", async () => {
    for (const [head, status, type] of [
      ["NOT HTTP AT ALL\r\n\r\n", 400, "bad-request"],
      [
        `GET /healthz HTTP/1.1\r\nHost: api\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
        431,
        "headers-too-large",
      ],
    ] as const) {
      const answer = await dribble(head, "", 10_000);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `));
      const problem = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      assert.equal(problem.type, `urn:umbra:problem:${type}`);
    }
  });

  it("an event stream lives on past the request deadline and still delivers", async () => {
    const opened = await openEventStream(
      cluster.apiUrls[0] as string,
      `/v1/products/${PID}/devices/d1/events`,
      { key: KEY },
    );
    if (!(opened instanceof SseStream)) return assert.fail(JSON.stringify(opened.body));
    try {
      // Heartbeats come every 300 ms: twelve of them span more than the request deadline
      // and the server's 1 s check of it, twice over.
      const opening = opened.comments.length;
      while (opened.comments.length - opening < 12) await opened.nextComment(5_000);
      const written = await http()("PATCH", `/v1/products/${PID}/devices/d1/shadow`, {
        key: KEY,
        body: { desired: { after: "deadline" } },
        type: "application/merge-patch+json",
      });
      assert.equal(written.status, 200, JSON.stringify(written.body));
      const change = await opened.next("change");
      assert.deepEqual(JSON.parse(change.data).applied, { desired: { after: "deadline" } });
    } finally {
      opened.close();
    }
  });
});

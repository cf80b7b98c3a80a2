/**
 * The HTTP API end to end: real NATS and Redis of the test's own, shard, reply, edge and
 * api as four processes, applications over real HTTP, devices over MQTT (mqtt.js).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import {
  type ApiCluster,
  type HttpAnswer,
  httpClient,
  openEventStream,
  SseStream,
  startApiCluster,
  startNats,
  startService,
  TestDevice,
} from "../src/harness.js";

const ADMIN = "admin-key-0123456789abcdef";
const P1_ONLY = "p1-only-key-0123456789abcdef";

let cluster: ApiCluster;
let mqttUrl: string;
let http: ReturnType<typeof httpClient>;
let base: string;

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [k: string]: unknown;
}
interface Doc {
  version: number;
  desired: Record<string, unknown>;
  reported: Record<string, unknown>;
  metadata: Record<string, unknown>;
  deviceKey: string;
  productKey: string;
}

const as = <T>(answer: HttpAnswer): T => answer.body as T;

/** A problem document with this status, every member present. */
const assertProblem = (answer: HttpAnswer, status: number, detail?: RegExp): Problem => {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(answer.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const p = as<Problem>(answer);
  assert.equal(p.status, status);
  assert.match(p.type, /^urn:umbra:problem:/);
  assert.equal(typeof p.title, "string");
  assert.equal(typeof p.detail, "string");
  if (detail !== undefined) assert.match(p.detail, detail);
  return p;
};

const dev = (pid: string, dn: string) => `/v1/products/${pid}/devices/${dn}`;

/** Registers a device through the API; its key and a token. */
const createDevice = async (pid: string, dn: string) => {
  const created = await http("POST", `/v1/products/${pid}/devices`, {
    key: ADMIN,
    body: { name: dn },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const token = await http("POST", `${dev(pid, dn)}/token`, { key: ADMIN, body: {} });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return {
    productId: pid,
    deviceName: dn,
    key: as<{ key: string }>(created).key,
    token: as<{ token: string }>(token).token,
  };
};

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${ADMIN}=*,${P1_ONLY}=p1`,
    adminKey: ADMIN,
    products: ["p1", "p2"],
  });
  mqttUrl = cluster.mqttUrls[0] as string;
  base = cluster.apiUrls[0] as string;
  http = cluster.http[0] as ReturnType<typeof httpClient>;
});

after(async () => {
  await cluster?.stop();
});

describe("HTTP API: shadows", () => {
  it("a cloud desired update reaches the subscribed MQTT device as a OneNET delta", async () => {
    const d = await createDevice("p1", "lamp");
    const base = `$sys/p1/lamp/image`;
    const device = await TestDevice.connect(mqttUrl, d, { subscribe: [`${base}/#`] });
    await device.client.publishAsync(
      `${base}/update`,
      JSON.stringify({ state: { reported: { color: "red", level: 3 } } }),
    );
    await device.next("image/update/accepted");

    const patched = await http("PATCH", `${dev("p1", "lamp")}/shadow`, {
      key: ADMIN,
      type: "application/merge-patch+json",
      body: { desired: { color: "green", level: 3 } },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const doc = as<Doc>(patched);
    assert.equal(doc.version, 2);
    assert.equal(patched.headers.get("etag"), '"2"');
    assert.deepEqual(doc.desired, { color: "green", level: 3 });
    assert.deepEqual(doc.reported, { color: "red", level: 3 });

    const delta = (await device.next("image/update/delta")).body as {
      state: unknown;
      version: number;
      metadata: unknown;
      timestamp: number;
    };
    assert.deepEqual(delta.state, { color: "green" });
    assert.equal(delta.version, 2);
    assert.deepEqual(delta.metadata, { color: { timestamp: delta.timestamp } });

    // null deletes a key; the canonical document says who wrote what.
    const again = await http("PATCH", `${dev("p1", "lamp")}/shadow`, {
      key: ADMIN,
      type: "application/merge-patch+json",
      body: { desired: { level: null } },
    });
    assert.deepEqual(as<Doc>(again).desired, { color: "green" });
    const got = await http("GET", `${dev("p1", "lamp")}/shadow`, { key: ADMIN });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("etag"), '"3"');
    const canonical = as<Doc & { metadata: { desired: { color: { source: string } } } }>(got);
    assert.equal(canonical.deviceKey, "lamp");
    assert.equal(canonical.productKey, "p1");
    assert.equal(canonical.metadata.desired.color.source, "cloud");
    await device.close();
  });

  it("renders the shadow in every view", async () => {
    await createDevice("p1", "viewed");
    await http("PATCH", `${dev("p1", "viewed")}/shadow`, {
      key: ADMIN,
      type: "application/merge-patch+json",
      body: { desired: { mode: "eco" } },
    });
    const view = async (name: string) =>
      as<Record<string, unknown>>(
        await http("GET", `${dev("p1", "viewed")}/shadow?view=${name}`, { key: ADMIN }),
      );
    const onenet = await view("onenet");
    assert.deepEqual(onenet.state, { desired: { mode: "eco" }, reported: {} });
    assert.equal(onenet.version, 1);
    const aliyun = await view("aliyun");
    assert.deepEqual(aliyun.state, { desired: { mode: "eco" } });
    const aws = await view("aws");
    assert.deepEqual(aws.state, { desired: { mode: "eco" }, delta: { mode: "eco" } });
    const twin = await view("twin");
    assert.equal(twin.$dtId, "viewed");
    assertProblem(await http("GET", `${dev("p1", "viewed")}/shadow?view=xml`, { key: ADMIN }), 400);
  });

  it("If-Match: the current ETag writes, a stale one is 412 and changes nothing", async () => {
    await createDevice("p1", "valve");
    const first = await http("PATCH", `${dev("p1", "valve")}/shadow`, {
      key: ADMIN,
      type: "application/merge-patch+json",
      body: { desired: { open: true } },
      headers: { "if-match": '"0"' },
    });
    // No shadow yet: version 0 is what it is at.
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const etag = first.headers.get("etag") as string;
    assert.equal(etag, '"1"');
    const second = await http("PATCH", `${dev("p1", "valve")}/shadow`, {
      key: ADMIN,
      type: "application/merge-patch+json",
      body: { desired: { open: false } },
      headers: { "if-match": etag },
    });
    assert.equal(second.status, 200);
    const stale = await http("PATCH", `${dev("p1", "valve")}/shadow`, {
      key: ADMIN,
      type: "application/merge-patch+json",
      body: { desired: { open: "stale" } },
      headers: { "if-match": etag },
    });
    const p = assertProblem(stale, 412, /expected 1, the shadow is at 2/);
    assert.equal(p.currentVersion, 2);
    const staleDelete = await http("DELETE", `${dev("p1", "valve")}/shadow`, {
      key: ADMIN,
      headers: { "if-match": etag },
    });
    assertProblem(staleDelete, 412);
    // The same version in another reset epoch (an ETag from before an Alibaba device's
    // -1 names one) is another document: the epoch travels to the shard and is judged.
    assertProblem(
      await http("PATCH", `${dev("p1", "valve")}/shadow`, {
        key: ADMIN,
        type: "application/merge-patch+json",
        body: { desired: { open: "other epoch" } },
        headers: { "if-match": '"1:2"' },
      }),
      412,
      /reset since/,
    );
    const now = await http("GET", `${dev("p1", "valve")}/shadow`, { key: ADMIN });
    assert.deepEqual(as<Doc>(now).desired, { open: false });
    assert.equal(as<Doc>(now).version, 2);
    assert.equal(now.headers.get("etag"), '"2"', "a shadow never reset keeps the plain ETag");
    assertProblem(
      await http("PATCH", `${dev("p1", "valve")}/shadow`, {
        key: ADMIN,
        type: "application/merge-patch+json",
        body: { desired: { open: 1 } },
        headers: { "if-match": "yesterday" },
      }),
      400,
      /If-Match/,
    );
  });

  it("DELETE removes the shadow; the next write starts a new one at a later version", async () => {
    await createDevice("p1", "gone");
    const path = `${dev("p1", "gone")}/shadow`;
    const type = "application/merge-patch+json";
    await http("PATCH", path, { key: ADMIN, type, body: { desired: { a: 1 } } });
    await http("PATCH", path, { key: ADMIN, type, body: { desired: { b: 2 } } });
    const deleted = await http("DELETE", path, { key: ADMIN, headers: { "if-match": '"2"' } });
    assert.equal(deleted.status, 204);
    assertProblem(await http("GET", path, { key: ADMIN }), 404, /shadow does not exist/);
    assertProblem(await http("DELETE", path, { key: ADMIN }), 404);
    const fresh = await http("PATCH", path, { key: ADMIN, type, body: { desired: { c: 3 } } });
    assert.deepEqual(as<Doc>(fresh).desired, { c: 3 });
    assert.ok(as<Doc>(fresh).version > 2, "versions go on after a delete");
  });

  it("answers every error with a problem document and changes nothing", async () => {
    await createDevice("p1", "strict");
    const path = `${dev("p1", "strict")}/shadow`;
    const type = "application/merge-patch+json";
    assertProblem(await http("PATCH", path, { key: ADMIN, type, body: "{nope" }), 400, /JSON/);
    assertProblem(
      await http("PATCH", path, { key: ADMIN, type, body: { reported: { x: 1 } } }),
      400,
      /reported/,
    );
    assertProblem(await http("PATCH", path, { key: ADMIN, type, body: { desired: [1] } }), 400);
    assertProblem(
      await http("PATCH", path, {
        key: ADMIN,
        type,
        body: { desired: { big: "x".repeat(20_000) } },
      }),
      413,
    );
    assertProblem(
      await http("PATCH", path, { key: ADMIN, type: "text/plain", body: "{}" }),
      415,
      /merge-patch/,
    );
    assertProblem(await http("PATCH", path, { key: ADMIN, body: { desired: { a: 1 } } }), 415);
    assertProblem(await http("GET", `${dev("p1", "nobody")}/shadow`, { key: ADMIN }), 404);
    assertProblem(await http("GET", `${dev("p9", "x")}/shadow`, { key: ADMIN }), 404);
    assertProblem(await http("GET", "/v1/nothing", { key: ADMIN }), 404);
    const notAllowed = await http("PUT", path, { key: ADMIN });
    assertProblem(notAllowed, 405);
    assert.match(notAllowed.headers.get("allow") ?? "", /PATCH/);
    // Nothing was written by any of them.
    assertProblem(await http("GET", path, { key: ADMIN }), 404, /shadow does not exist/);
  });

  it("needs an API key that covers the product", async () => {
    await createDevice("p2", "other");
    assertProblem(await http("GET", `${dev("p2", "other")}/shadow`), 401);
    assertProblem(await http("GET", `${dev("p2", "other")}/shadow`, { key: "x".repeat(20) }), 401);
    assertProblem(await http("GET", `${dev("p2", "other")}`, { key: P1_ONLY }), 403, /p2/);
    const listed = await http("GET", "/v1/products", { key: P1_ONLY });
    assert.deepEqual(as<{ products: string[] }>(listed).products, ["p1"]);
    assert.equal((await http("GET", "/healthz")).status, 200);
  });
});

describe("HTTP API: device registry", () => {
  it("creates, lists a page at a time, issues tokens that connect, deletes", async () => {
    assertProblem(await http("POST", "/v1/products", { key: ADMIN, body: { id: "p1" } }), 409);
    assertProblem(await http("POST", "/v1/products", { key: ADMIN, body: { id: "bad/id" } }), 400);
    await http("POST", "/v1/products", { key: ADMIN, body: { id: "fleet" } });
    for (const n of ["a", "b", "c", "d", "e"]) await createDevice("fleet", n);
    assertProblem(
      await http("POST", "/v1/products/fleet/devices", { key: ADMIN, body: { name: "a" } }),
      409,
    );
    const pages: string[][] = [];
    let after: string | null = null;
    do {
      const query: string = after === null ? "?limit=2" : `?limit=2&after=${after}`;
      const page = as<{ devices: string[]; next: string | null }>(
        await http("GET", `/v1/products/fleet/devices${query}`, { key: ADMIN }),
      );
      pages.push(page.devices);
      after = page.next;
    } while (after !== null);
    assert.deepEqual(pages, [["a", "b"], ["c", "d"], ["e"]]);
    assertProblem(await http("DELETE", "/v1/products/fleet", { key: ADMIN }), 409);

    // The device connects with the token the API issued.
    const a = await createDevice("fleet", "f");
    const device = await TestDevice.connect(mqttUrl, a, { subscribe: ["$sys/fleet/f/image/#"] });
    await device.client.publishAsync(
      "$sys/fleet/f/image/update",
      JSON.stringify({ state: { reported: { on: true } } }),
    );
    await device.next("image/update/accepted");
    const closed = new Promise<void>((resolve) => device.client.once("close", () => resolve()));
    assert.equal((await http("DELETE", dev("fleet", "f"), { key: ADMIN })).status, 204);
    await closed; // disconnected
    assertProblem(await http("GET", `${dev("fleet", "f")}/shadow`, { key: ADMIN }), 404);
    assertProblem(await http("DELETE", dev("fleet", "f"), { key: ADMIN }), 404);
    // Its token no longer connects.
    await assert.rejects(TestDevice.connect(mqttUrl, a));
  });

  it("rotating a key closes the session and only tokens of the new key connect", async () => {
    const d = await createDevice("p1", "rotor");
    const device = await TestDevice.connect(mqttUrl, d);
    const closed = new Promise<void>((resolve) => device.client.once("close", () => resolve()));
    const rotated = await http("POST", `${dev("p1", "rotor")}/key`, { key: ADMIN });
    assert.equal(rotated.status, 200);
    assert.notEqual(as<{ key: string }>(rotated).key, d.key);
    await closed;
    await assert.rejects(TestDevice.connect(mqttUrl, d));
    const token = await http("POST", `${dev("p1", "rotor")}/token`, {
      key: ADMIN,
      body: { expiresIn: 3600, method: "sha1" },
    });
    const fresh = await TestDevice.connect(mqttUrl, {
      ...d,
      token: as<{ token: string }>(token).token,
    });
    await fresh.close();
  });
});

describe("HTTP API: operations", () => {
  it("serves an OpenAPI document that validates and names every operation it serves", async () => {
    const answer = await http("GET", "/openapi.json");
    assert.equal(answer.status, 200);
    const document = answer.body as { paths: Record<string, Record<string, unknown>> };
    const validator = new Validator();
    const result = await validator.validate(
      document as unknown as Parameters<Validator["validate"]>[0],
    );
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1));
    // Every documented operation is served: a request reaches a handler (never the
    // router's 404 "no resource" or 405).
    let operations = 0;
    for (const [path, item] of Object.entries(document.paths))
      for (const method of Object.keys(item)) {
        operations++;
        const concrete = path.replace("{pid}", "p1").replace("{dn}", "nobody");
        const operation = item[method] as { responses?: Record<string, { content?: object }> };
        let got: HttpAnswer;
        if ("text/event-stream" in (operation.responses?.["200"]?.content ?? {})) {
          // An event stream stays open: that it opens is enough.
          const opened = await openEventStream(base, concrete, { key: ADMIN });
          if (opened instanceof SseStream) {
            opened.close();
            continue;
          }
          got = opened;
        } else got = await http(method.toUpperCase(), concrete, { key: ADMIN });
        const p = got.body as Partial<Problem>;
        assert.notEqual(p.type, "urn:umbra:problem:not-found", `${method} ${path}`);
        assert.notEqual(got.status, 405, `${method} ${path}`);
      }
    assert.ok(operations >= 20, `${operations} operations`);
    const docs = await http("GET", "/docs");
    assert.equal(docs.status, 200);
    assert.match(String(docs.body), /openapi\.json/);
  });

  it("is ready when NATS, Redis and every partition answer; exposes metrics", async () => {
    const ready = await http("GET", "/readyz");
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(as<{ checks: Record<string, string> }>(ready).checks, {
      nats: "ok",
      redis: "ok",
      partitions: "all 1024 served",
    });
    const metrics = await http("GET", "/metrics");
    assert.match(
      String(metrics.body),
      /umbra_api_requests_total\{operation="getShadow",status="200"\} \d+/,
    );
  });
});

describe("HTTP API: when things go wrong", () => {
  it("answers 503 when no shard serves the device, 429 past the key's rate, and is not ready", async () => {
    await createDevice("p1", "stranded");
    const lonely = await startNats(); // no shard behind this one
    try {
      const alone = await startService(["api"], {
        NATS_URL: lonely.url,
        REDIS_URL: cluster.redisUrl,
        HTTP_PORT: "0",
        HTTP_HOST: "127.0.0.1",
        API_KEYS: `${ADMIN}=*`,
        API_RATE_LIMIT: "1",
        API_RATE_BURST: "2",
        API_COMMAND_TIMEOUT_MS: "1000",
      });
      try {
        const call = httpClient(`http://127.0.0.1:${alone.ready.api?.httpPort}`);
        const path = `${dev("p1", "stranded")}/shadow`;
        const unavailable = await call("GET", path, { key: ADMIN });
        assertProblem(unavailable, 503, /no shard answered for p1\/stranded/);
        assertProblem(await call("GET", path, { key: ADMIN }), 503);
        const limited = await call("GET", path, { key: ADMIN });
        assertProblem(limited, 429);
        assert.match(limited.headers.get("retry-after") ?? "", /^\d+$/);
        const ready = await call("GET", "/readyz");
        assert.equal(ready.status, 503);
        assert.match(
          as<{ checks: { partitions: string } }>(ready).checks.partitions,
          /^1024 of 1024 not served/,
        );
        await alone.waitForLog(
          (line) => line.level === 40 && line.msg === "The cluster is unavailable",
        );
      } finally {
        await alone.stop();
      }
    } finally {
      await lonely.stop();
    }
  });

  it("says in one line that the HTTP port is taken", async () => {
    const port = new URL(base).port;
    await assert.rejects(
      startService(["api"], {
        NATS_URL: cluster.natsUrl,
        REDIS_URL: cluster.redisUrl,
        HTTP_PORT: port,
        HTTP_HOST: "127.0.0.1",
      }),
      new RegExp(`umbra api: HTTP port ${port} on 127\\.0\\.0\\.1 is already in use`),
    );
  });
});

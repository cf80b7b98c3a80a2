/**
 * Calls to a device itself (`properties:get|set`, `services/{identifier}:invoke`) through
 * the whole request pipeline of `createApiServer` over HTTP: key scope, body validation,
 * the registry check, and each outcome of the call as the status and problem type the
 * gateway routes answer. The registry, the shard client and the call client are
 * in-memory stand-ins that record what they were asked.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import type { CommandAnswer, GatewayOutcome, ShadowClient } from "@umbra/bus";
import { type GatewayRequest, ShadowErrors } from "@umbra/core";
import type { DeviceId } from "@umbra/dialects";
import { createLogger } from "@umbra/runtime";
import type { DeviceRecord, DeviceRegistry } from "@umbra/store";
import {
  createApiServer,
  deviceCallRoutes,
  Metrics,
  parseApiKeys,
  RateLimiter,
} from "../src/index.js";

const ADMIN = "admin-key-0123456789";
const P1 = "p1-only-key-0123456789";

interface Call {
  readonly device: DeviceId;
  readonly request: GatewayRequest;
  readonly version: string | undefined;
}

const registered = new Map<string, DeviceRecord>();
const asked: string[] = [];
const calls: Call[] = [];
const writes: { key: string; state: object }[] = [];
/** What the next call ends with; a function gets the call's request. */
let next: (request: GatewayRequest) => GatewayOutcome;
let stored: CommandAnswer;

const registry = {
  get: async (key: string) => {
    asked.push(key);
    return registered.get(key);
  },
} as unknown as DeviceRegistry;

const shadows = {
  update: async (key: string, state: object) => {
    writes.push({ key, state });
    return stored;
  },
} as unknown as ShadowClient;

const callClient = {
  callDevice: async (device: DeviceId, request: GatewayRequest, version?: string) => {
    calls.push({ device, request, version });
    return next(request);
  },
};

let base: string;
const server = createApiServer({
  routes: deviceCallRoutes({ registry, shadows, calls: callClient, timeoutMs: 5_000 }),
  logger: createLogger("test", "silent"),
  metrics: new Metrics(),
  keys: parseApiKeys(`${ADMIN}=*,${P1}=p1`) as Map<string, never>,
  limiter: new RateLimiter(0, 1),
  maxBodyBytes: 64 * 1024,
  maxBodyDepth: 32,
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  registered.clear();
  registered.set("p1/lamp", { key: "k", createdAt: 0 });
  registered.set("p2/lamp", { key: "k", createdAt: 0 });
  registered.set("p1/meter", { key: "k", createdAt: 0, gateway: "gw/hub-1" });
  asked.length = 0;
  calls.length = 0;
  writes.length = 0;
  next = () => ({
    kind: "answered",
    id: "1000000000001",
    reply: { id: "1000000000001", code: 200 },
  });
  stored = { ok: true, version: 4 } as CommandAnswer;
});

const post = async (path: string, body: unknown, key = ADMIN) => {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const problem = (
  got: { status: number; body: Record<string, unknown> },
  status: number,
  type: string,
) => {
  assert.equal(got.status, status, JSON.stringify(got.body));
  assert.equal(got.body.type, `urn:umbra:problem:${type}`, JSON.stringify(got.body));
  return got.body;
};

const LAMP = "/v1/products/p1/devices/lamp";
const ROUTES: [string, unknown][] = [
  [`${LAMP}/properties:get`, { params: ["t"] }],
  [`${LAMP}/properties:set`, { params: { t: 1 } }],
  [`${LAMP}/services/reboot:invoke`, { input: {} }],
];

describe("calls to a device itself: the request's way to the device", () => {
  it("sends property get, set and a service as the call client's requests, with the version given", async () => {
    assert.equal((await post(`${LAMP}/properties:get`, { params: ["t", "h"] })).status, 200);
    assert.equal(
      (await post(`${LAMP}/properties:set`, { params: { t: "30.5" }, version: "2.1" })).status,
      200,
    );
    assert.equal(
      (await post(`${LAMP}/services/re%3Aboot:invoke`, { input: { delay: 1 } })).status,
      200,
    );
    assert.equal((await post(`${LAMP}/services/reset:invoke`, {})).status, 200);
    // The envelope's version: 1 to 32 characters (33 is refused below).
    const longest = "v".repeat(32);
    assert.equal(
      (await post(`${LAMP}/properties:get`, { params: ["t"], version: longest })).status,
      200,
    );
    const lamp = { productId: "p1", deviceName: "lamp" };
    assert.deepEqual(calls, [
      {
        device: lamp,
        request: { kind: "property/get", identifiers: ["t", "h"] },
        version: undefined,
      },
      {
        device: lamp,
        request: { kind: "property/set", properties: { t: "30.5" } },
        version: "2.1",
      },
      {
        device: lamp,
        request: { kind: "service/invoke", identifier: "re:boot", input: { delay: 1 } },
        version: undefined,
      },
      {
        device: lamp,
        request: { kind: "service/invoke", identifier: "reset", input: {} },
        version: undefined,
      },
      { device: lamp, request: { kind: "property/get", identifiers: ["t"] }, version: longest },
    ]);
  });

  it("answers 403 for another product's key before anything is looked up, whether the device exists or not", async () => {
    for (const dn of ["lamp", "ghost"])
      for (const [path, body] of ROUTES) {
        const got = await post(path.replace("/p1/", "/p2/").replace("/lamp/", `/${dn}/`), body, P1);
        problem(got, 403, "forbidden");
      }
    assert.deepEqual(asked, []);
    assert.deepEqual(calls, []);
    // The key's own product: through.
    assert.equal((await post(`${LAMP}/properties:get`, { params: ["t"] }, P1)).status, 200);
  });

  it("answers 404 for an unregistered device and a name no device can have, calling nothing", async () => {
    for (const [path, body] of ROUTES) {
      problem(await post(path.replace("/lamp/", "/ghost/"), body), 404, "unknown-device");
      problem(await post(path.replace("/lamp/", "/a+b/"), body), 404, "unknown-device");
    }
    assert.deepEqual(asked, ["p1/ghost", "p1/ghost", "p1/ghost"]);
    assert.deepEqual(calls, []);
  });

  it("refuses a gateway's sub-device with 409, naming the gateway route that reaches it", async () => {
    for (const [path, body] of ROUTES) {
      const got = problem(await post(path.replace("/lamp/", "/meter/"), body), 409, "conflict");
      assert.match(
        String(got.detail),
        /'p1\/meter' is a sub-device of gateway 'gw\/hub-1': call it through \/v1\/products\/gw\/devices\/hub-1\/subdevices\/p1\/meter\//,
      );
      assert.deepEqual(got.gateway, { productId: "gw", deviceName: "hub-1" });
    }
    assert.deepEqual(calls, []);
  });

  it("refuses a body of the wrong shape with 400, calling nothing", async () => {
    for (const [path, body] of [
      [`${LAMP}/properties:get`, { params: "t" }],
      [`${LAMP}/properties:get`, { params: ["t"], extra: 1 }],
      [`${LAMP}/properties:get`, { params: [""] }],
      [`${LAMP}/properties:get`, { params: ["x".repeat(129)] }],
      [`${LAMP}/properties:set`, { params: [1] }],
      [`${LAMP}/properties:set`, { params: { t: 1 }, version: "" }],
      [`${LAMP}/properties:set`, { params: { t: 1 }, version: "v".repeat(33) }],
      [`${LAMP}/services/reboot:invoke`, { input: [] }],
    ] as const)
      problem(await post(path, body), 400, "bad-request");
    problem(await post(`${LAMP}/properties:get`, "{"), 400, "bad-json");
    assert.deepEqual(calls, []);
  });
});

describe("calls to a device itself: the call's outcome as the gateway routes answer it", () => {
  it("a refused call (the seed's rules) is 400 with the engine's detail", async () => {
    next = () => ({ kind: "invalid", error: ShadowErrors.tooManyProperties(51, 50) });
    const got = problem(
      await post(`${LAMP}/properties:get`, { params: ["t"] }),
      400,
      "bad-request",
    );
    assert.match(String(got.detail), /51 properties in one call; the limit is 50/);
  });

  it("an offline device and a session not subscribed to the call's topic are 409 gateway-offline", async () => {
    next = () => ({ kind: "offline" });
    const offline = problem(
      await post(`${LAMP}/properties:set`, { params: { t: 1 } }),
      409,
      "gateway-offline",
    );
    assert.equal(offline.detail, "device 'p1/lamp' is not connected");
    assert.equal(offline.title, "The gateway or device cannot take the call");
    next = () => ({ kind: "not-delivered", topic: "$sys/p1/lamp/thing/property/set" });
    const deaf = problem(
      await post(`${LAMP}/properties:set`, { params: { t: 1 } }),
      409,
      "gateway-offline",
    );
    assert.match(
      String(deaf.detail),
      /has not subscribed to \$sys\/p1\/lamp\/thing\/property\/set/,
    );
  });

  it("a silent device is 504 with the call's id; a bad reply 502 with it", async () => {
    next = () => ({ kind: "timeout", id: "1234567890123", waitedMs: 5_000 });
    const silent = problem(
      await post(`${LAMP}/services/reboot:invoke`, {}),
      504,
      "gateway-timeout",
    );
    assert.equal(silent.id, "1234567890123");
    assert.equal(silent.detail, "device 'p1/lamp' did not answer call 1234567890123 within 5 s");
    next = () => ({ kind: "bad-reply", id: "7", problem: "/code: must be an integer" });
    const bad = problem(await post(`${LAMP}/services/reboot:invoke`, {}), 502, "gateway-bad-reply");
    assert.equal(bad.id, "7");
    assert.match(
      String(bad.detail),
      /device 'p1\/lamp' answered call 7: \/code: must be an integer/,
    );
  });

  it("the device's own error code, msg and data reach the caller as 502 gateway-error; nothing is stored", async () => {
    next = () => ({
      kind: "answered",
      id: "9",
      reply: { id: "9", code: 2406, msg: "value out of range", data: { t: 1 } },
    });
    const got = problem(
      await post(`${LAMP}/properties:get`, { params: ["t"] }),
      502,
      "gateway-error",
    );
    assert.equal(got.code, 2406);
    assert.equal(got.msg, "value out of range");
    assert.deepEqual(got.data, { t: 1 });
    assert.deepEqual(writes, []);
  });

  it("a set and a service answered 200 pass id, code, msg and data through", async () => {
    next = () => ({
      kind: "answered",
      id: "9",
      reply: { id: "9", code: 200, msg: "ok", data: { result: "on" } },
    });
    const invoked = await post(`${LAMP}/services/reboot:invoke`, {});
    assert.equal(invoked.status, 200);
    assert.deepEqual(invoked.body, { id: "9", code: 200, msg: "ok", data: { result: "on" } });
    assert.deepEqual(writes, [], "a service's output is not the device's state");
  });

  it("a get stores only the values asked for as reported state and answers the shadow's version", async () => {
    next = () => ({
      kind: "answered",
      id: "9",
      reply: { id: "9", code: 200, data: { t: 39.5, h: 20, secret: 1 } },
    });
    const got = await post(`${LAMP}/properties:get`, { params: ["t", "h", "absent"] });
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.deepEqual(got.body, {
      id: "9",
      code: 200,
      data: { t: 39.5, h: 20, secret: 1 },
      shadowVersion: 4,
    });
    assert.deepEqual(writes, [{ key: "p1/lamp", state: { reported: { t: 39.5, h: 20 } } }]);

    // Nothing asked for in the answer: nothing written, no version.
    writes.length = 0;
    next = () => ({
      kind: "answered",
      id: "10",
      reply: { id: "10", code: 200, data: { other: 1 } },
    });
    const none = await post(`${LAMP}/properties:get`, { params: ["t"] });
    assert.deepEqual(none.body, { id: "10", code: 200, data: { other: 1 } });
    assert.deepEqual(writes, []);
  });

  it("values the shard refuses are 502 gateway-bad-reply; a shard that cannot write is 503", async () => {
    next = () => ({ kind: "answered", id: "9", reply: { id: "9", code: 200, data: { t: 1 } } });
    stored = { ok: false, error: ShadowErrors.documentTooLarge(20_000, 16_384) } as CommandAnswer;
    const refused = problem(
      await post(`${LAMP}/properties:get`, { params: ["t"] }),
      502,
      "gateway-bad-reply",
    );
    assert.match(
      String(refused.detail),
      /the values read from device 'p1\/lamp' could not be stored as 'p1\/lamp' reported state: DocumentTooLarge/,
    );
    stored = { ok: false, error: ShadowErrors.unspecified("storage") } as CommandAnswer;
    problem(await post(`${LAMP}/properties:get`, { params: ["t"] }), 503, "cluster-unavailable");
  });
});

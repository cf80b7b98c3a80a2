import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GatewayClient, NatsConnection, ShadowClient } from "@umbra/bus";
import { ShadowErrors } from "@umbra/core";
import type { Redis } from "@umbra/store";
import { DeviceRegistry } from "@umbra/store";
import {
  AuthThrottle,
  addressGroup,
  apiRoutes,
  checkRouteParameters,
  covers,
  deviceCallRoutes,
  type EventStreams,
  etag,
  findKey,
  openApiDocument,
  operationRoutes,
  ProblemError,
  parseApiKeys,
  parseIfMatch,
  RateLimiter,
  Readiness,
  Router,
  type ShadowNameReader,
  shadowProblem,
  subDeviceRoutes,
} from "../src/index.js";

describe("If-Match", () => {
  it("reads the ETags the API issues, strong or weak; * and absent mean any version", () => {
    assert.deepEqual(parseIfMatch('"7"'), { version: 7, epoch: 0 });
    assert.deepEqual(parseIfMatch('W/"0"'), { version: 0, epoch: 0 });
    assert.deepEqual(parseIfMatch('"2:1796279699317"'), { version: 1796279699317, epoch: 2 });
    assert.deepEqual(parseIfMatch(`"${Number.MAX_SAFE_INTEGER}"`), {
      version: Number.MAX_SAFE_INTEGER,
      epoch: 0,
    });
    assert.equal(parseIfMatch(undefined), undefined);
    assert.equal(parseIfMatch("*"), undefined);
    for (const bad of ["7", '"x"', '"1", "2"', '"-1"', "", '"9007199254740992"', '"1:"', '":1"'])
      assert.throws(() => parseIfMatch(bad), ProblemError, bad);
  });

  it("names the reset epoch in the ETag, so one taken before an Alibaba reset never matches after", () => {
    assert.equal(etag({ version: 7 }), '"7"');
    assert.equal(etag({ version: 7, epoch: 2 }), '"2:7"');
    // Version 1 before a reset and version 1 after it: different ETags, and each reads
    // back as the (epoch, version) the shard judges.
    const before = etag({ version: 1 });
    const after = etag({ version: 1, epoch: 1 });
    assert.notEqual(before, after);
    assert.deepEqual(parseIfMatch(before), { version: 1, epoch: 0 });
    assert.deepEqual(parseIfMatch(after), { version: 1, epoch: 1 });
  });
});

describe("API keys", () => {
  it("parses secrets and their product scopes; finds a key by its secret", () => {
    const keys = parseApiKeys("k3y-for-app-one-xx=p1|p2, admin-s3cret-key-xx=*");
    assert.ok(keys instanceof Map);
    const app = findKey(keys, "k3y-for-app-one-xx");
    assert.ok(app !== undefined);
    assert.equal(covers(app, "p1"), true);
    assert.equal(covers(app, "p3"), false);
    const admin = findKey(keys, "admin-s3cret-key-xx");
    assert.ok(admin !== undefined && covers(admin, "anything"));
    assert.equal(findKey(keys, "k3y-for-app-one-xy"), undefined);
    assert.deepEqual(parseApiKeys(""), new Map());
  });

  it("refuses short secrets, missing scopes and entries without '='", () => {
    assert.match(String(parseApiKeys("short=p1")), /16 characters/);
    assert.match(String(parseApiKeys("long-enough-secret-x=")), /no products/);
    assert.match(String(parseApiKeys("no-equals-sign-at-all")), /not <secret>=/);
  });

  it("limits requests per key with a token bucket", () => {
    const limiter = new RateLimiter(60, 2); // one a second, bursts of two
    assert.equal(limiter.take("a", 0), 0);
    assert.equal(limiter.take("a", 0), 0);
    assert.equal(limiter.take("a", 0), 1);
    assert.equal(limiter.take("b", 0), 0, "keys have their own buckets");
    assert.equal(limiter.take("a", 1_000), 0, "a token a second comes back");
    assert.equal(new RateLimiter(0, 1).take("a", 0), 0, "0 turns limiting off");
  });
});

describe("failed authentication throttle", () => {
  it("lets an address fail `burst` times, then makes it wait for a token, without slowing others", () => {
    const throttle = new AuthThrottle(60, 3, 100); // a failure a second, bursts of three
    for (let i = 0; i < 2; i++) assert.equal(throttle.failed("a", 0), false);
    assert.equal(throttle.wait("a", 0), 0, "one attempt left");
    assert.equal(throttle.failed("a", 0), true, "the third failure throttles");
    assert.equal(throttle.wait("a", 0), 1, "retry in a second");
    assert.equal(throttle.wait("a", 0), 1, "waiting uses no token");
    assert.equal(throttle.wait("b", 0), 0, "another address is not affected");
    assert.equal(throttle.wait("a", 1_000), 0, "a token a second comes back");
    assert.equal(throttle.failed("a", 1_000), false, "throttled again: said once per episode");
    assert.equal(throttle.wait("a", 1_000), 1);
    // Quiet long enough for all three to come back: the next throttling is a new episode.
    assert.equal(throttle.failed("a", 5_000), false);
    assert.equal(throttle.failed("a", 5_000), false);
    assert.equal(throttle.failed("a", 5_000), true);
    assert.equal(new AuthThrottle(0, 1, 1).failed("a", 0), false, "0 turns the throttle off");
  });

  it("remembers at most maxAddresses, forgetting the one that failed least recently", () => {
    const throttle = new AuthThrottle(1, 1, 3);
    for (const address of ["a", "b", "c"]) throttle.failed(address, 0);
    assert.equal(throttle.size, 3, "at the bound");
    throttle.failed("a", 0); // a failed again: b is now the oldest
    throttle.failed("d", 0);
    assert.equal(throttle.size, 3, "past the bound: still 3");
    assert.equal(throttle.wait("b", 0), 0, "b forgotten");
    for (const kept of ["a", "c", "d"]) assert.ok(throttle.wait(kept, 0) > 0, kept);
    for (let i = 0; i < 10_000; i++) throttle.failed(`x${i}`, 0);
    assert.equal(throttle.size, 3, "far past the bound");
  });

  it("counts IPv4 addresses one by one and IPv6 by /64 network", () => {
    assert.equal(addressGroup("192.0.2.7"), "192.0.2.7");
    assert.equal(addressGroup("::ffff:192.0.2.7"), "192.0.2.7");
    assert.equal(addressGroup("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(addressGroup("2001:DB8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
    assert.equal(addressGroup("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(addressGroup("fe80::1%eth0"), "fe80:0:0:0::/64");
    assert.equal(addressGroup("::1"), "0:0:0:0::/64");
  });
});

describe("Router", () => {
  const handle = () => ({ status: 200 });
  const base = { operationId: "x", summary: "", tag: "t", responses: {}, handle } as const;
  const router = new Router([
    { ...base, method: "GET", path: "/v1/products/{pid}" },
    { ...base, method: "GET", path: "/v1/products/{pid}/devices/{dn}/shadow" },
    { ...base, method: "PATCH", path: "/v1/products/{pid}/devices/{dn}/shadow" },
    { ...base, method: "POST", path: "/v1/products/{pid}/services/{identifier}:invoke" },
  ]);

  it("matches templates and decodes parameters", () => {
    const m = router.match("GET", "/v1/products/p%201/devices/d.1/shadow");
    assert.equal(m.kind, "found");
    if (m.kind === "found") assert.deepEqual(m.params, { pid: "p 1", dn: "d.1" });
  });

  it("tells a wrong method (with what is allowed), an unknown path and a bad escape apart", () => {
    assert.deepEqual(router.match("PUT", "/v1/products/p/devices/d/shadow"), {
      kind: "method",
      allowed: ["GET", "PATCH"],
    });
    assert.equal(router.match("GET", "/v1/products/p/devices").kind, "none");
    assert.equal(router.match("GET", "/v1/products/").kind, "none", "empty parameter");
    assert.equal(router.match("GET", "/v1/products/%E0%A4%A").kind, "bad-path");
  });

  it("reads a parameter followed by a literal in one segment ({identifier}:invoke)", () => {
    const m = router.match("POST", "/v1/products/p/services/re%3Aboot:invoke");
    assert.equal(m.kind, "found");
    if (m.kind === "found") assert.deepEqual(m.params, { pid: "p", identifier: "re:boot" });
    assert.equal(router.match("POST", "/v1/products/p/services/:invoke").kind, "none");
    assert.equal(router.match("POST", "/v1/products/p/services/reboot").kind, "none");
  });
});

describe("problem documents", () => {
  it("map engine errors to statuses", () => {
    assert.equal(shadowProblem(ShadowErrors.versionConflict(1, 2)).status, 412);
    assert.equal(shadowProblem(ShadowErrors.versionConflict(1, 2)).currentVersion, 2);
    assert.equal(shadowProblem(ShadowErrors.shadowNotFound()).status, 404);
    assert.equal(shadowProblem(ShadowErrors.documentTooLarge(20_000, 16_384)).status, 413);
    assert.equal(shadowProblem(ShadowErrors.depthExceeded("/a", 8)).status, 400);
    assert.equal(shadowProblem(ShadowErrors.unspecified("storage")).status, 503);
    const twin = shadowProblem(ShadowErrors.twinNotConformant("p_", "ends with _"));
    assert.equal(twin.status, 400);
    assert.match(twin.detail, /^ErrorCode:ArgumentInvalid;'p_' exists within the device twin/);
  });
});

describe("OpenAPI document", () => {
  const nothing = {} as unknown;
  const routes = [
    ...apiRoutes({
      shadows: nothing as ShadowClient,
      registry: new DeviceRegistry(nothing as Redis),
      nc: nothing as NatsConnection,
      events: nothing as EventStreams,
      shadowNames: nothing as ShadowNameReader,
      now: () => 0,
    }),
    ...subDeviceRoutes({
      registry: new DeviceRegistry(nothing as Redis),
      shadows: nothing as ShadowClient,
      gateways: nothing as GatewayClient,
      nc: nothing as NatsConnection,
    }),
    ...deviceCallRoutes({
      registry: new DeviceRegistry(nothing as Redis),
      shadows: nothing as ShadowClient,
      calls: nothing as GatewayClient,
    }),
    ...operationRoutes(
      new Readiness({} as NatsConnection, nothing as Redis, 4, { timeoutMs: 1, cacheMs: 1 }),
      () => ({}),
    ),
  ];
  const doc = openApiDocument(routes, "0.0.0") as {
    paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>>;
    components: { schemas: Record<string, unknown> };
  };

  it("has every route, once, with its operation id", () => {
    const ids = new Set<string>();
    for (const route of routes) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      assert.ok(op !== undefined, `${route.method} ${route.path}`);
      assert.equal(op.operationId, route.operationId);
      assert.equal(ids.has(route.operationId), false, `${route.operationId} twice`);
      ids.add(route.operationId);
      assert.equal(op.requestBody !== undefined, route.body !== undefined);
    }
  });

  it("every route's path parameters are known to name a product (checked against the key) or not", () => {
    checkRouteParameters(routes);
    const stray = { ...(routes[0] as (typeof routes)[number]), path: "/v1/things/{otherPid}" };
    assert.throws(() => checkRouteParameters([stray]), /path parameter 'otherPid' is not known/);
  });

  it("names its schemas and points every reference at them", () => {
    for (const name of [
      "Problem",
      "ShadowDocument",
      "ShadowPatch",
      "ShadowNameList",
      "TwinPatch",
      "DeviceKey",
      "GatewayAnswer",
      "DeviceCallAnswer",
      "DevicePropertyGetRequest",
    ])
      assert.ok(name in doc.components.schemas, name);
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 0);
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([^"]+)"/.exec(ref)?.[1];
      assert.ok(name !== undefined && name in doc.components.schemas, ref);
    }
  });
});

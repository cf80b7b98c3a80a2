/**
 * Guessing API keys is throttled per source address (issue 13, finding 5): 1,000 wrong
 * keys were answered in 0.75 s, before the rate limiter. Past API_AUTH_FAILURE_BURST
 * invalid keys an address gets 429 with Retry-After for every request, counted in
 * /metrics; a valid key from another address is served as before. A real API process,
 * reached from two loopback addresses (127.0.0.1 and 127.0.0.2).
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { type ApiCluster, sampleOf, startApiCluster } from "../src/harness.js";

const KEY = "throttle-admin-key-0123456789";
const BURST = 5;

let cluster: ApiCluster;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** GET `path` with a bearer key, from the given local address. */
const get = (path: string, key: string | undefined, from: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const url = new URL(path, cluster.apiUrls[0]);
    const req = request(
      url,
      {
        localAddress: from,
        headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });

/** The value of one series of /metrics, 0 when absent. */
const metric = async (series: string): Promise<number> =>
  sampleOf((await get("/metrics", undefined, "127.0.0.1")).body, series) ?? 0;

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${KEY}=*`,
    adminKey: KEY,
    products: ["p1"],
    // One token a minute: no token comes back while the test runs.
    apis: [{ API_AUTH_FAILURES_PER_MINUTE: "1", API_AUTH_FAILURE_BURST: String(BURST) }],
  });
});

after(async () => {
  await cluster?.stop();
});

describe("failed API key attempts", () => {
  it("an address guessing keys gets 429 with Retry-After past the burst; another address's valid key is served", async () => {
    const invalid = '{reason="invalid-key"}';
    const throttled = '{reason="throttled"}';
    const invalidBefore = await metric(`umbra_api_auth_refusals_total${invalid}`);
    const throttledBefore = await metric(`umbra_api_auth_refusals_total${throttled}`);

    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 200; i++) {
      last = await get("/v1/products", `wrong-key-${i}-0123456789abcdef`, "127.0.0.1");
      statuses.push(last.status);
    }
    assert.deepEqual(statuses.slice(0, BURST), Array(BURST).fill(401));
    assert.deepEqual(statuses.slice(BURST), Array(200 - BURST).fill(429));
    assert.ok(last !== undefined);
    assert.equal(last.headers["content-type"], "application/problem+json");
    assert.ok(Number(last.headers["retry-after"]) >= 1, String(last.headers["retry-after"]));
    const problem = JSON.parse(last.body) as { type: string; detail: string };
    assert.equal(problem.type, "urn:umbra:problem:rate-limited");
    assert.match(problem.detail, /invalid API key from this address; retry in \d+ s/);

    // Throttled, the address learns nothing: a valid key is refused alike.
    assert.equal((await get("/v1/products", KEY, "127.0.0.1")).status, 429);
    // Another address is not affected.
    const other = await get("/v1/products", KEY, "127.0.0.2");
    assert.equal(other.status, 200, other.body);
    assert.deepEqual(JSON.parse(other.body), { products: ["p1"] });
    // Public routes stay open to the throttled address (probes, metrics).
    assert.equal((await get("/healthz", undefined, "127.0.0.1")).status, 200);

    assert.equal(await metric(`umbra_api_auth_refusals_total${invalid}`), invalidBefore + BURST);
    assert.equal(
      await metric(`umbra_api_auth_refusals_total${throttled}`),
      throttledBefore + 200 - BURST + 1,
    );
    assert.equal(await metric("umbra_api_auth_throttle_addresses"), 1);
  });
});

/**
 * An API key reaches only the products it holds, through every route naming a product,
 * on both sides of a gateway link (issue 13, finding 2): a key of `p1` could link
 * `p1/gw-x` to `p2/secret`, and the gateway then wrote `p2/secret`'s shadow over MQTT.
 * Real NATS, Redis, shard, reply, edge and API processes; the gateway is mqtt.js.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type HttpAnswer,
  type httpClient,
  startApiCluster,
  TestDevice,
} from "../src/harness.js";

const ADMIN = "scope-admin-key-0123456789";
const P1_KEY = "scope-p1-only-key-0123456789";

let cluster: ApiCluster;
type Http = ReturnType<typeof httpClient>;
const http = (): Http => cluster.http[0] as Http;

const device = (pid: string, dn: string) => `/v1/products/${pid}/devices/${dn}`;

const register = async (pid: string, dn: string) => {
  const made = await http()("POST", `/v1/products/${pid}/devices`, {
    key: ADMIN,
    body: { name: dn },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const token = await http()("POST", `${device(pid, dn)}/token`, { key: ADMIN, body: {} });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return { productId: pid, deviceName: dn, token: (token.body as { token: string }).token };
};

const forbidden = (got: HttpAnswer, product: string): void => {
  assert.equal(got.status, 403, JSON.stringify(got.body));
  assert.deepEqual(got.body, {
    type: "urn:umbra:problem:forbidden",
    title: "The API key does not cover this product",
    status: 403,
    detail: `the API key does not cover product '${product}'`,
  });
};

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${ADMIN}=*,${P1_KEY}=p1`,
    adminKey: ADMIN,
    products: ["p1", "p2"],
  });
});

after(async () => {
  await cluster?.stop();
});

describe("an API key reaches only the products it holds", () => {
  it("a key of p1 cannot link a p1 gateway to a p2 device, and the gateway cannot touch p2 over MQTT", async () => {
    const gw = await register("p1", "gw-x");
    await register("p2", "secret");
    const link = `${device("p1", "gw-x")}/subdevices/p2/secret`;
    forbidden(await http()("PUT", link, { key: P1_KEY }), "p2");
    // The admin sees no link was stored.
    const listed = await http()("GET", `${device("p1", "gw-x")}/subdevices`, { key: ADMIN });
    assert.deepEqual(listed.body, { subDevices: [] });

    const gateway = await TestDevice.connect(cluster.mqttUrls[0] as string, gw);
    try {
      assert.equal(await gateway.granted("$sys/p2/secret/image/#"), false);
      // MQTT 3.1.1: a publish outside the device's topics is acknowledged and dropped.
      await gateway.client.publishAsync(
        "$sys/p2/secret/image/update",
        JSON.stringify({ state: { reported: { stolen: true } } }),
        { qos: 1 },
      );
      const shadow = await http()("GET", `${device("p2", "secret")}/shadow`, { key: ADMIN });
      assert.equal(shadow.status, 404, JSON.stringify(shadow.body));
      assert.equal((shadow.body as { type: string }).type, "urn:umbra:problem:shadow-not-found");
      // Its own topics are still its own.
      assert.equal(await gateway.granted("$sys/p1/gw-x/image/#"), true);
    } finally {
      await gateway.close();
    }
  });

  it("answers 403 alike whether or not the other product's device exists, on every route naming one", async () => {
    await register("p1", "gw-y");
    await register("p2", "exists");
    for (const dn of ["exists", "no-such-device"]) {
      const sub = `${device("p1", "gw-y")}/subdevices/p2/${dn}`;
      forbidden(await http()("PUT", sub, { key: P1_KEY }), "p2");
      forbidden(await http()("DELETE", sub, { key: P1_KEY }), "p2");
      for (const [path, body] of [
        [`${sub}/properties:get`, { params: ["t"] }],
        [`${sub}/properties:set`, { params: { t: 1 } }],
        [`${sub}/services/reboot:invoke`, {}],
      ] as const)
        forbidden(await http()("POST", path, { key: P1_KEY, body }), "p2");
      for (const path of ["", "/shadow", "/twin", "/functions", "/subdevices", "/events"])
        forbidden(await http()("GET", `${device("p2", dn)}${path}`, { key: P1_KEY }), "p2");
      forbidden(await http()("DELETE", device("p2", dn), { key: P1_KEY }), "p2");
    }
    // A product that does not exist at all answers the same.
    forbidden(
      await http()("PUT", `${device("p1", "gw-y")}/subdevices/p3/anything`, { key: P1_KEY }),
      "p3",
    );
    forbidden(await http()("GET", "/v1/products/p3/events", { key: P1_KEY }), "p3");
    forbidden(await http()("POST", "/v1/products", { key: P1_KEY, body: { id: "p3" } }), "p3");
    // Nothing of p2 was touched.
    const still = await http()("GET", device("p2", "exists"), { key: ADMIN });
    assert.equal(still.status, 200, JSON.stringify(still.body));
  });

  it("a key holding both products links them; a key of one side sees only its side of the listing", async () => {
    const both = await http()("PUT", `${device("p1", "gw-y")}/subdevices/p2/exists`, {
      key: ADMIN,
    });
    assert.equal(both.status, 201, JSON.stringify(both.body));
    await register("p1", "local-sub");
    const local = await http()("PUT", `${device("p1", "gw-y")}/subdevices/p1/local-sub`, {
      key: P1_KEY,
    });
    assert.equal(local.status, 201, JSON.stringify(local.body));
    const mine = await http()("GET", `${device("p1", "gw-y")}/subdevices`, { key: P1_KEY });
    assert.deepEqual(mine.body, { subDevices: [{ productId: "p1", deviceName: "local-sub" }] });
    const all = await http()("GET", `${device("p1", "gw-y")}/subdevices`, { key: ADMIN });
    assert.deepEqual(all.body, {
      subDevices: [
        { productId: "p1", deviceName: "local-sub" },
        { productId: "p2", deviceName: "exists" },
      ],
    });
    // Calls through the gateway for the p2 side stay the admin's.
    forbidden(
      await http()("POST", `${device("p1", "gw-y")}/subdevices/p2/exists/properties:set`, {
        key: P1_KEY,
        body: { params: { t: 1 } },
      }),
      "p2",
    );
  });
});

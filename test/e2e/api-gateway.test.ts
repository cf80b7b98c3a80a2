/**
 * Gateway sub-devices (seed 003) over the HTTP API: the topology in the registry, and
 * property get / set and service calls that reach a real MQTT gateway (mqtt.js) through
 * the edge holding its session and come back as its `…_reply`. Two edges, two API
 * processes, shard and reply as separate processes on NATS and Redis of the test's own.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type HttpAnswer,
  type httpClient,
  pollUntil,
  startApiCluster,
  TestDevice,
} from "../src/harness.js";

const KEY = "gateway-admin-key-0123456789";
const GW_PID = "gwprod";
const SUB_PID = "meters";

/** Edges A and B, API processes A and B. */
let cluster: ApiCluster;
type Http = ReturnType<typeof httpClient>;
const api = (i: number): Http => cluster.http[i % cluster.http.length] as Http;

interface Envelope {
  id: string;
  version: string;
  params: Record<string, unknown>;
}

const device = (pid: string, dn: string) => `/v1/products/${pid}/devices/${dn}`;
const sub = (gw: string, subDn: string) => `${device(GW_PID, gw)}/subdevices/${SUB_PID}/${subDn}`;

const register = async (pid: string, dn: string) => {
  const http = api(0);
  const made = await http("POST", `/v1/products/${pid}/devices`, { key: KEY, body: { name: dn } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const token = await http("POST", `${device(pid, dn)}/token`, { key: KEY, body: {} });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return { productId: pid, deviceName: dn, token: (token.body as { token: string }).token };
};

/** A gateway with its sub-devices registered under it. */
const gatewayWith = async (gw: string, subs: readonly string[]) => {
  const registered = await register(GW_PID, gw);
  for (const dn of subs) {
    await register(SUB_PID, dn);
    const put = await api(0)("PUT", sub(gw, dn), { key: KEY });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  }
  return registered;
};

/** A connected gateway listening to every call; `edge` picks edge A (0) or B (1). */
const connectGateway = (
  registered: Awaited<ReturnType<typeof register>>,
  edge = 1,
  subscribe = [`$sys/${GW_PID}/${registered.deviceName}/thing/sub/#`],
) => TestDevice.connect(cluster.mqttUrls[edge] as string, registered, { subscribe });

/** The gateway answers a call on its reply topic. */
const reply = (gateway: TestDevice, gw: string, callTopic: string, body: object) =>
  gateway.client.publishAsync(`$sys/${GW_PID}/${gw}/${callTopic}_reply`, JSON.stringify(body), {
    qos: 1,
  });

const problem = (got: HttpAnswer, status: number, type: string): Record<string, unknown> => {
  assert.equal(got.status, status, JSON.stringify(got.body));
  assert.equal((got.body as { type: string }).type, `urn:umbra:problem:${type}`);
  return got.body as Record<string, unknown>;
};

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${KEY}=*`,
    adminKey: KEY,
    products: [GW_PID, SUB_PID],
    edges: 2,
    apis: [{}, {}],
  });
});

after(async () => {
  await cluster?.stop();
});

describe("gateway sub-devices (seed 003)", () => {
  it("registers sub-devices under one gateway each, lists and removes them", async () => {
    const apiA = api(0);
    await gatewayWith("gw-topo", ["m-topo-1", "m-topo-2"]);
    await register(GW_PID, "gw-other");
    const again = await apiA("PUT", sub("gw-topo", "m-topo-1"), { key: KEY });
    assert.equal(again.status, 200);
    const taken = await apiA(
      "PUT",
      `${device(GW_PID, "gw-other")}/subdevices/${SUB_PID}/m-topo-1`,
      { key: KEY },
    );
    assert.match(String(problem(taken, 409, "conflict").detail), /sub-device of 'gwprod\/gw-topo'/);
    problem(
      await apiA("PUT", sub("gw-topo", "no-such-meter"), { key: KEY }),
      404,
      "unknown-device",
    );

    const list = await apiA("GET", `${device(GW_PID, "gw-topo")}/subdevices`, { key: KEY });
    assert.deepEqual(list.body, {
      subDevices: [
        { productId: SUB_PID, deviceName: "m-topo-1" },
        { productId: SUB_PID, deviceName: "m-topo-2" },
      ],
    });
    assert.equal((await apiA("DELETE", sub("gw-topo", "m-topo-2"), { key: KEY })).status, 204);
    problem(await apiA("DELETE", sub("gw-topo", "m-topo-2"), { key: KEY }), 404, "not-sub-device");
    // Deleting a sub-device takes it off its gateway's list.
    assert.equal((await apiA("DELETE", device(SUB_PID, "m-topo-1"), { key: KEY })).status, 204);
    const empty = await apiA("GET", `${device(GW_PID, "gw-topo")}/subdevices`, { key: KEY });
    assert.deepEqual(empty.body, { subDevices: [] });
  });

  it("property get travels through the gateway on another edge and stores the values as reported", async () => {
    const gw = await gatewayWith("gw-get", ["m-get"]);
    const gateway = await connectGateway(gw, 1);
    try {
      // API process A serves the call; the gateway sits on edge B.
      const answered = api(0)("POST", `${sub("gw-get", "m-get")}/properties:get`, {
        key: KEY,
        body: { params: ["temperature", "humidity"] },
      });
      const request = await gateway.next("thing/sub/property/get");
      assert.equal(request.topic, `$sys/${GW_PID}/gw-get/thing/sub/property/get`);
      const envelope = request.body as Envelope;
      assert.match(envelope.id, /^\d{1,13}$/);
      assert.deepEqual(envelope, {
        id: envelope.id,
        version: "1.0",
        params: { deviceName: "m-get", productID: SUB_PID, params: ["temperature", "humidity"] },
      });
      await reply(gateway, "gw-get", "thing/sub/property/get", {
        id: envelope.id,
        code: 200,
        msg: "ok",
        // An identifier not asked for is not written to the shadow.
        data: { temperature: 39.5, humidity: 20, secret: 1 },
      });
      const got = await answered;
      assert.equal(got.status, 200, JSON.stringify(got.body));
      const body = got.body as { id: string; code: number; data: object; shadowVersion: number };
      assert.equal(body.id, envelope.id);
      assert.equal(body.code, 200);
      assert.deepEqual(body.data, { temperature: 39.5, humidity: 20, secret: 1 });
      assert.equal(body.shadowVersion, 1);
      const shadow = await api(1)("GET", `${device(SUB_PID, "m-get")}/shadow`, { key: KEY });
      assert.deepEqual((shadow.body as { reported: object }).reported, {
        temperature: 39.5,
        humidity: 20,
      });
    } finally {
      await gateway.close();
    }
  });

  it("property set and service invoke send seed 003's envelopes and pass the gateway's code and msg through", async () => {
    const gw = await gatewayWith("gw-set", ["m-set"]);
    const gateway = await connectGateway(gw, 0);
    try {
      const set = api(1)("POST", `${sub("gw-set", "m-set")}/properties:set`, {
        key: KEY,
        body: { params: { temperature: "30.5" }, version: "2.1" },
      });
      const setRequest = (await gateway.next("thing/sub/property/set")).body as Envelope;
      assert.deepEqual(setRequest.params, {
        deviceName: "m-set",
        productID: SUB_PID,
        params: { temperature: "30.5" },
      });
      assert.equal(setRequest.version, "2.1");
      await reply(gateway, "gw-set", "thing/sub/property/set", {
        id: setRequest.id,
        code: 200,
        msg: "done",
      });
      assert.deepEqual((await set).body, { id: setRequest.id, code: 200, msg: "done" });

      // The gateway refuses: its code and msg reach the caller.
      const refused = api(0)("POST", `${sub("gw-set", "m-set")}/properties:set`, {
        key: KEY,
        body: { params: { temperature: "99" } },
      });
      const second = (await gateway.next("thing/sub/property/set")).body as Envelope;
      await reply(gateway, "gw-set", "thing/sub/property/set", {
        id: second.id,
        code: 2406,
        msg: "value out of range",
      });
      const p = problem(await refused, 502, "gateway-error");
      assert.equal(p.code, 2406);
      assert.equal(p.msg, "value out of range");

      const invoked = api(0)("POST", `${sub("gw-set", "m-set")}/services/reboot:invoke`, {
        key: KEY,
        body: { input: { Power1: "on", WF1: "2" } },
      });
      const invoke = await gateway.next("thing/sub/service/invoke");
      assert.equal(invoke.topic, `$sys/${GW_PID}/gw-set/thing/sub/service/invoke`);
      const call = invoke.body as Envelope;
      assert.deepEqual(call.params, {
        deviceName: "m-set",
        productID: SUB_PID,
        identifier: "reboot",
        input: { Power1: "on", WF1: "2" },
      });
      const output = {
        deviceName: "m-set",
        productID: SUB_PID,
        identifier: "reboot",
        output: { result1: "on" },
      };
      await reply(gateway, "gw-set", "thing/sub/service/invoke", {
        id: call.id,
        code: 200,
        msg: "ok",
        data: output,
      });
      const done = await invoked;
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.deepEqual((done.body as { data: object }).data, output);
    } finally {
      await gateway.close();
    }
  });

  it("matches concurrent calls to their replies by id, whatever order the gateway answers in", async () => {
    const gw = await gatewayWith("gw-many", ["m-many"]);
    const gateway = await connectGateway(gw, 1);
    try {
      const calls = [0, 1, 2].map((i) =>
        api(i % 2)("POST", `${sub("gw-many", "m-many")}/properties:get`, {
          key: KEY,
          body: { params: [`p${i}`] },
        }),
      );
      const requests: Envelope[] = [];
      for (let i = 0; i < 3; i++)
        requests.push((await gateway.next("thing/sub/property/get")).body as Envelope);
      // Answer in reverse order, each with the value of the property it was asked for.
      for (const request of [...requests].reverse()) {
        const name = (request.params.params as string[])[0] as string;
        await reply(gateway, "gw-many", "thing/sub/property/get", {
          id: request.id,
          code: 200,
          data: { [name]: name },
        });
      }
      const answers = await Promise.all(calls);
      answers.forEach((got, i) => {
        assert.equal(got.status, 200, JSON.stringify(got.body));
        assert.deepEqual((got.body as { data: object }).data, { [`p${i}`]: `p${i}` });
      });
    } finally {
      await gateway.close();
    }
  });

  it("refuses more than 50 properties, unregistered sub-devices and answers for another sub-device", async () => {
    const apiA = api(0);
    const gw = await gatewayWith("gw-rules", ["m-rules"]);
    await register(SUB_PID, "m-stranger");
    const names = Array.from({ length: 51 }, (_, i) => `p${i}`);
    const tooMany = await apiA("POST", `${sub("gw-rules", "m-rules")}/properties:get`, {
      key: KEY,
      body: { params: names },
    });
    assert.match(
      String(problem(tooMany, 400, "bad-request").detail),
      /51 properties in one call; the limit is 50/,
    );
    const tooManySet = await apiA("POST", `${sub("gw-rules", "m-rules")}/properties:set`, {
      key: KEY,
      body: { params: Object.fromEntries(names.map((n) => [n, 1])) },
    });
    problem(tooManySet, 400, "bad-request");
    const stranger = await apiA("POST", `${sub("gw-rules", "m-stranger")}/properties:get`, {
      key: KEY,
      body: { params: ["t"] },
    });
    problem(stranger, 404, "not-sub-device");

    const gateway = await connectGateway(gw, 0);
    try {
      const invoked = apiA("POST", `${sub("gw-rules", "m-rules")}/services/open:invoke`, {
        key: KEY,
        body: {},
      });
      const call = (await gateway.next("thing/sub/service/invoke")).body as Envelope;
      assert.deepEqual(call.params.input, {});
      await reply(gateway, "gw-rules", "thing/sub/service/invoke", {
        id: call.id,
        code: 200,
        data: { deviceName: "m-stranger", productID: SUB_PID, identifier: "open", output: {} },
      });
      const p = problem(await invoked, 502, "gateway-bad-reply");
      assert.match(String(p.detail), /not for its sub-device 'meters\/m-rules'/);
    } finally {
      await gateway.close();
    }
  });

  it("an offline gateway is a 409, a gateway not subscribed to the call's topic too", async () => {
    const apiA = api(0);
    const gw = await gatewayWith("gw-away", ["m-away"]);
    const offline = await apiA("POST", `${sub("gw-away", "m-away")}/properties:get`, {
      key: KEY,
      body: { params: ["t"] },
    });
    assert.match(String(problem(offline, 409, "gateway-offline").detail), /is not connected/);
    // Connected, but listening only to its own image.
    const gateway = await connectGateway(gw, 1, [`$sys/${GW_PID}/gw-away/image/#`]);
    try {
      const deaf = await apiA("POST", `${sub("gw-away", "m-away")}/properties:get`, {
        key: KEY,
        body: { params: ["t"] },
      });
      assert.match(
        String(problem(deaf, 409, "gateway-offline").detail),
        /has not subscribed to \$sys\/gwprod\/gw-away\/thing\/sub\/property\/get/,
      );
    } finally {
      await gateway.close();
    }
  });

  it("a silent gateway times out after 5 s with a 504", async () => {
    const gw = await gatewayWith("gw-mute", ["m-mute"]);
    const gateway = await connectGateway(gw, 0);
    try {
      const silent = api(1)("POST", `${sub("gw-mute", "m-mute")}/properties:get`, {
        key: KEY,
        body: { params: ["t"] },
      });
      const request = (await gateway.next("thing/sub/property/get")).body as Envelope;
      const p = problem(await silent, 504, "gateway-timeout");
      assert.equal(p.id, request.id);
      assert.match(String(p.detail), /did not answer call \d+ within 5 s/);
      // A late reply finds no call waiting and changes nothing.
      await reply(gateway, "gw-mute", "thing/sub/property/get", {
        id: request.id,
        code: 200,
        data: { t: 1 },
      });
      const shadow = await api(0)("GET", `${device(SUB_PID, "m-mute")}/shadow`, { key: KEY });
      assert.equal(shadow.status, 404);
    } finally {
      await gateway.close();
    }
  });
});

describe("a gateway acts for its registered sub-devices only", () => {
  it("updates a sub-device's image on its behalf and gets its answers and cloud deltas", async () => {
    const gw = await gatewayWith("gw-proxy", ["m-proxy"]);
    const gateway = await connectGateway(gw, 0, [`$sys/${SUB_PID}/m-proxy/image/#`]);
    try {
      await gateway.client.publishAsync(
        `$sys/${SUB_PID}/m-proxy/image/update`,
        JSON.stringify({ state: { reported: { valve: "closed" } } }),
        { qos: 1 },
      );
      const accepted = await gateway.next("image/update/accepted");
      assert.equal(accepted.topic, `$sys/${SUB_PID}/m-proxy/image/update/accepted`);
      assert.equal((accepted.body as { version: number }).version, 1);
      const shadow = await api(1)("GET", `${device(SUB_PID, "m-proxy")}/shadow`, { key: KEY });
      assert.deepEqual((shadow.body as { reported: object }).reported, { valve: "closed" });

      // An application changes the sub-device's desired state: the gateway gets the delta.
      const patched = await api(0)("PATCH", `${device(SUB_PID, "m-proxy")}/shadow`, {
        key: KEY,
        body: { desired: { valve: "open" } },
        type: "application/merge-patch+json",
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const delta = await gateway.next("image/update/delta");
      assert.equal(delta.topic, `$sys/${SUB_PID}/m-proxy/image/update/delta`);
      assert.deepEqual((delta.body as { state: object }).state, { valve: "open" });
    } finally {
      await gateway.close();
    }
  });

  it("cannot subscribe or publish for a device that is not its sub-device", async () => {
    const gw = await gatewayWith("gw-strict", ["m-strict"]);
    await register(SUB_PID, "m-foreign");
    const gateway = await TestDevice.connect(cluster.mqttUrls[1] as string, gw, {
      protocolVersion: 5,
    });
    try {
      assert.equal(await gateway.granted(`$sys/${SUB_PID}/m-strict/image/#`), true);
      assert.equal(await gateway.granted(`$sys/${SUB_PID}/m-foreign/image/#`), false);
      assert.equal(await gateway.granted(`$sys/${SUB_PID}/+/image/#`), false);
      // MQTT 5: a publish outside its topics closes the connection with 0x87.
      const closed = new Promise<number | undefined>((resolve) =>
        gateway.client.once("disconnect", (packet) => resolve(packet.reasonCode)),
      );
      gateway.client.publish(
        `$sys/${SUB_PID}/m-foreign/image/update`,
        JSON.stringify({ state: { reported: { x: 1 } } }),
      );
      assert.equal(await closed, 0x87);
      const foreign = await api(0)("GET", `${device(SUB_PID, "m-foreign")}/shadow`, { key: KEY });
      assert.equal(foreign.status, 404, "nothing was written for the foreign device");
    } finally {
      await gateway.close();
    }
  });

  it("follows sub-devices added and removed while it is connected", async () => {
    const gw = await gatewayWith("gw-live", []);
    await register(SUB_PID, "m-late");
    const gateway = await connectGateway(gw, 1);
    try {
      assert.equal(await gateway.granted(`$sys/${SUB_PID}/m-late/image/#`), false);
      const put = await api(1)("PUT", sub("gw-live", "m-late"), { key: KEY });
      assert.equal(put.status, 201);
      await pollUntil(() => gateway.granted(`$sys/${SUB_PID}/m-late/image/#`), {
        timeoutMs: 5_000,
        what: "the connected gateway may subscribe for its new sub-device",
      });
      assert.equal((await api(0)("DELETE", sub("gw-live", "m-late"), { key: KEY })).status, 204);
      await pollUntil(async () => !(await gateway.granted(`$sys/${SUB_PID}/m-late/image/get`)), {
        timeoutMs: 5_000,
        what: "the gateway may no longer subscribe for the removed sub-device",
      });
    } finally {
      await gateway.close();
    }
  });
});

/**
 * Calls to a device itself over the HTTP API (OneNET thing model, issue 18):
 * `properties:set`, `properties:get` and `services/{identifier}:invoke` reach a real MQTT
 * device on its own `thing/property/set|get` and `thing/service/{identifier}/invoke`
 * through the edge holding its session, and come back as its `…_reply`, matched by id —
 * with the gateway calls' bodies, limits, statuses and problem types. The devices are
 * mqtt.js, and mosquitto_sub / mosquitto_pub. Two edges, two API processes, shard and
 * reply as separate processes on NATS and Redis of the test's own.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  CLI_FORMAT,
  CLI_WAIT_S,
  type CliClient,
  describeRun,
  deviceCommand,
  type HttpAnswer,
  type httpClient,
  requireMosquittoClients,
  runCliClient,
  startApiCluster,
  startCliClient,
  TestDevice,
} from "../src/harness.js";

const KEY = "thing-calls-admin-key-0123456789";
const OTHER_KEY = "thing-calls-other-key-0123456789";
const PID = "things";
const OTHER_PID = "elsewhere";

/** Edges A and B, API processes A and B. */
let cluster: ApiCluster;
type Http = ReturnType<typeof httpClient>;
const api = (i: number): Http => cluster.http[i % cluster.http.length] as Http;
const clients: CliClient[] = [];

interface Envelope {
  id: string;
  version: string;
  params: unknown;
}

interface Registered {
  productId: string;
  deviceName: string;
  token: string;
}

const device = (dn: string, pid = PID) => `/v1/products/${pid}/devices/${dn}`;
const topic = (dn: string, suffix: string) => `$sys/${PID}/${dn}/${suffix}`;

const register = async (dn: string, pid = PID): Promise<Registered> => {
  const made = await api(0)("POST", `/v1/products/${pid}/devices`, {
    key: KEY,
    body: { name: dn },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const token = await api(0)("POST", `${device(dn, pid)}/token`, { key: KEY, body: {} });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return { productId: pid, deviceName: dn, token: (token.body as { token: string }).token };
};

/** Every call topic a direct device listens to. */
const CALL_FILTERS = (dn: string) => [
  topic(dn, "thing/property/set"),
  topic(dn, "thing/property/get"),
  topic(dn, "thing/service/+/invoke"),
];

/** A registered, connected device listening to its calls; `edge` picks edge A (0) or B (1). */
const connect = async (dn: string, edge = 1, subscribe = CALL_FILTERS(dn)) =>
  TestDevice.connect(cluster.mqttUrls[edge] as string, await register(dn), { subscribe });

/** The device answers a call on `{call topic}_reply`. */
const reply = (d: TestDevice, callTopic: string, body: unknown) =>
  d.client.publishAsync(
    `${callTopic}_reply`,
    typeof body === "string" ? body : JSON.stringify(body),
    { qos: 1 },
  );

const problem = (got: HttpAnswer, status: number, type: string): Record<string, unknown> => {
  assert.equal(got.status, status, JSON.stringify(got.body));
  assert.equal((got.body as { type: string }).type, `urn:umbra:problem:${type}`);
  return got.body as Record<string, unknown>;
};

const call = (i: number, dn: string, what: string, body: unknown, key = KEY, pid = PID) =>
  api(i)("POST", `${device(dn, pid)}/${what}`, { key, body });

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${KEY}=*,${OTHER_KEY}=${OTHER_PID}`,
    adminKey: KEY,
    products: [PID, OTHER_PID],
    edges: 2,
    apis: [{}, {}],
  });
});

after(async () => {
  for (const client of clients) client.kill();
  await cluster?.stop();
});

describe("calls to a device itself through the API (thing model)", () => {
  it("property set, get and a service reach the device on its own topics through another edge, and its _reply answers", async () => {
    const lamp = await connect("lamp", 1);
    try {
      // API process A serves the calls; the device sits on edge B.
      const set = call(0, "lamp", "properties:set", {
        params: { temperature: "30.5" },
        version: "2.1",
      });
      const setCall = await lamp.next("thing/property/set");
      assert.equal(setCall.topic, topic("lamp", "thing/property/set"));
      const setEnvelope = setCall.body as Envelope;
      assert.match(setEnvelope.id, /^\d{1,13}$/);
      assert.deepEqual(setEnvelope, {
        id: setEnvelope.id,
        version: "2.1",
        params: { temperature: "30.5" },
      });
      await reply(lamp, setCall.topic, { id: setEnvelope.id, code: 200, msg: "done" });
      const setAnswer = await set;
      assert.equal(setAnswer.status, 200, JSON.stringify(setAnswer.body));
      assert.deepEqual(setAnswer.body, { id: setEnvelope.id, code: 200, msg: "done" });

      const get = call(1, "lamp", "properties:get", { params: ["temperature", "humidity"] });
      const getCall = await lamp.next("thing/property/get");
      const getEnvelope = getCall.body as Envelope;
      assert.deepEqual(getEnvelope, {
        id: getEnvelope.id,
        version: "1.0",
        params: ["temperature", "humidity"],
      });
      await reply(lamp, getCall.topic, {
        id: getEnvelope.id,
        code: 200,
        msg: "ok",
        // An identifier not asked for is not written to the shadow.
        data: { temperature: 39.5, humidity: 20, secret: 1 },
      });
      const got = await get;
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.deepEqual(got.body, {
        id: getEnvelope.id,
        code: 200,
        msg: "ok",
        data: { temperature: 39.5, humidity: 20, secret: 1 },
        shadowVersion: 1,
      });
      const shadow = await api(0)("GET", `${device("lamp")}/shadow`, { key: KEY });
      assert.deepEqual((shadow.body as { reported: object }).reported, {
        temperature: 39.5,
        humidity: 20,
      });

      const invoked = call(0, "lamp", "services/reboot:invoke", { input: { delay: 3 } });
      const invokeCall = await lamp.next("thing/service/reboot/invoke");
      assert.equal(invokeCall.topic, topic("lamp", "thing/service/reboot/invoke"));
      const invokeEnvelope = invokeCall.body as Envelope;
      assert.deepEqual(invokeEnvelope.params, { delay: 3 });
      await reply(lamp, invokeCall.topic, {
        id: invokeEnvelope.id,
        code: 200,
        data: { result: "rebooting" },
      });
      const done = await invoked;
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.deepEqual(done.body, {
        id: invokeEnvelope.id,
        code: 200,
        data: { result: "rebooting" },
      });
    } finally {
      await lamp.close();
    }
  });

  it("matches concurrent calls from both API processes to their replies by id, whatever order the device answers in", async () => {
    const d = await connect("busy", 0);
    try {
      const calls = [0, 1, 2, 3].map((i) =>
        call(i % 2, "busy", "properties:get", { params: [`p${i}`] }),
      );
      const requests: { topic: string; body: Envelope }[] = [];
      for (let i = 0; i < calls.length; i++)
        requests.push((await d.next("thing/property/get")) as { topic: string; body: Envelope });
      for (const request of [...requests].reverse()) {
        const name = (request.body.params as string[])[0] as string;
        await reply(d, request.topic, { id: request.body.id, code: 200, data: { [name]: name } });
      }
      const answers = await Promise.all(calls);
      answers.forEach((got, i) => {
        assert.equal(got.status, 200, JSON.stringify(got.body));
        assert.deepEqual((got.body as { data: object }).data, { [`p${i}`]: `p${i}` });
      });
    } finally {
      await d.close();
    }
  });

  it("the device's own error code and msg are a 502 gateway-error; a reply without a valid code a 502 gateway-bad-reply", async () => {
    const d = await connect("grumpy", 0);
    try {
      const refused = call(1, "grumpy", "properties:set", { params: { temperature: "99" } });
      const setCall = await d.next("thing/property/set");
      await reply(d, setCall.topic, {
        id: (setCall.body as Envelope).id,
        code: 2406,
        msg: "value out of range",
      });
      const p = problem(await refused, 502, "gateway-error");
      assert.equal(p.code, 2406);
      assert.equal(p.msg, "value out of range");
      assert.match(String(p.detail), /^device 'things\/grumpy' answered call \d+ with code 2406/);

      const garbled = call(0, "grumpy", "services/open:invoke", {});
      const invokeCall = await d.next("thing/service/open/invoke");
      const id = (invokeCall.body as Envelope).id;
      await reply(d, invokeCall.topic, { id, code: "200" });
      const bad = problem(await garbled, 502, "gateway-bad-reply");
      assert.equal(bad.id, id);
      assert.match(String(bad.detail), /\/code/);
    } finally {
      await d.close();
    }
  });

  it("an offline device is a 409, a device not subscribed to the call's topic too", async () => {
    await register("away");
    const offline = problem(
      await call(0, "away", "properties:get", { params: ["t"] }),
      409,
      "gateway-offline",
    );
    assert.equal(offline.detail, "device 'things/away' is not connected");
    // Connected, but listening only to its property set.
    const d = await TestDevice.connect(cluster.mqttUrls[1] as string, await register("deaf"), {
      subscribe: [topic("deaf", "thing/property/set")],
    });
    try {
      const deaf = problem(
        await call(1, "deaf", "services/reboot:invoke", {}),
        409,
        "gateway-offline",
      );
      assert.match(
        String(deaf.detail),
        /has not subscribed to \$sys\/things\/deaf\/thing\/service\/reboot\/invoke/,
      );
    } finally {
      await d.close();
    }
  });

  it("a device that answers only on other calls' topics, or not at all, times out after 5 s with a 504; a late reply changes nothing", async () => {
    const d = await connect("mute", 0);
    try {
      const silent = call(1, "mute", "properties:get", { params: ["t"] });
      const getCall = await d.next("thing/property/get");
      const id = (getCall.body as Envelope).id;
      // The right id on the wrong topics: another call's reply, a gateway's, another service's.
      const wrong = { id, code: 200, data: { t: 1 } };
      await reply(d, topic("mute", "thing/property/set"), wrong);
      await reply(d, topic("mute", "thing/sub/property/get"), wrong);
      await reply(d, topic("mute", "thing/service/t/invoke"), wrong);
      const p = problem(await silent, 504, "gateway-timeout");
      assert.equal(p.id, id);
      assert.equal(p.detail, `device 'things/mute' did not answer call ${id} within 5 s`);
      // Late: no call waits for it, no value is stored.
      await reply(d, getCall.topic, wrong);
      const shadow = await api(0)("GET", `${device("mute")}/shadow`, { key: KEY });
      assert.equal(shadow.status, 404, JSON.stringify(shadow.body));
    } finally {
      await d.close();
    }
  });

  it("refuses past 50 properties and a service identifier unfit for a topic before anything is sent; exactly 50 are sent", async () => {
    const d = await connect("strict", 1);
    try {
      const at = Array.from({ length: 50 }, (_, i) => `p${i}`);
      const past = [...at, "p50"];
      const tooMany = await call(0, "strict", "properties:get", { params: past });
      assert.match(
        String(problem(tooMany, 400, "bad-request").detail),
        /51 properties in one call; the limit is 50/,
      );
      const tooManySet = await call(1, "strict", "properties:set", {
        params: Object.fromEntries(past.map((n) => [n, 1])),
      });
      problem(tooManySet, 400, "bad-request");
      for (const identifier of ["a%2Bb", "a%20b", "%24sys", "x".repeat(129)])
        problem(await call(0, "strict", `services/${identifier}:invoke`, {}), 400, "bad-request");
      // At the bounds: 50 properties, a 128-character service.
      // One at a time: two API processes' calls reach the device in no set order.
      const fifty = call(0, "strict", "properties:set", {
        params: Object.fromEntries(at.map((n) => [n, 1])),
      });
      const setCall = await d.next("thing/property/set");
      assert.equal(Object.keys((setCall.body as Envelope).params as object).length, 50);
      await reply(d, setCall.topic, { id: (setCall.body as Envelope).id, code: 200 });
      assert.equal((await fifty).status, 200);
      const longest = "x".repeat(128);
      const named = call(1, "strict", `services/${longest}:invoke`, {});
      const invokeCall = await d.next(`thing/service/${longest}/invoke`);
      await reply(d, invokeCall.topic, { id: (invokeCall.body as Envelope).id, code: 200 });
      assert.equal((await named).status, 200);
      // Nothing but those two reached the device.
      assert.deepEqual(d.topics(), [setCall.topic, invokeCall.topic]);
    } finally {
      await d.close();
    }
  });

  it("another product's key is a 403 whether the device exists or not; an unregistered device a 404, a sub-device a 409", async () => {
    const d = await connect("guarded", 0);
    try {
      for (const dn of ["guarded", "no-such-device"])
        for (const [what, body] of [
          ["properties:get", { params: ["t"] }],
          ["properties:set", { params: { t: 1 } }],
          ["services/reboot:invoke", {}],
        ] as const)
          problem(await call(1, dn, what, body, OTHER_KEY), 403, "forbidden");
      problem(
        await call(0, "no-such-device", "properties:get", { params: ["t"] }),
        404,
        "unknown-device",
      );
      // Its own product's key reaches its own devices.
      await register("own", OTHER_PID);
      problem(
        await call(0, "own", "properties:get", { params: ["t"] }, OTHER_KEY, OTHER_PID),
        409,
        "gateway-offline",
      );

      // A gateway's sub-device is called through its gateway.
      await register("hub");
      await register("meter");
      const linked = await api(0)("PUT", `${device("hub")}/subdevices/${PID}/meter`, { key: KEY });
      assert.equal(linked.status, 201, JSON.stringify(linked.body));
      const sub = problem(
        await call(1, "meter", "properties:set", { params: { t: 1 } }),
        409,
        "conflict",
      );
      assert.match(
        String(sub.detail),
        /call it through \/v1\/products\/things\/devices\/hub\/subdevices\/things\/meter/,
      );

      assert.deepEqual(d.topics(), [], "no call reached the device");
    } finally {
      await d.close();
    }
  });
});

describe("calls to a device itself with mosquitto_sub and mosquitto_pub", () => {
  it("mosquitto_sub takes a property set on the device's topic; mosquitto_pub's set_reply answers the API call", async () => {
    requireMosquittoClients();
    const registered = await register("mosq");
    const port = Number(new URL(cluster.mqttUrls[0] as string).port);
    const setTopic = topic("mosq", "thing/property/set");
    // One message, then it disconnects: the device's session is free for mosquitto_pub.
    const sub = startCliClient(
      "mosquitto_sub",
      deviceCommand({
        port,
        device: registered,
        protocol: "mqttv311",
        debug: true,
        count: 1,
        waitS: CLI_WAIT_S,
        format: CLI_FORMAT,
        topics: [setTopic],
      }),
    );
    clients.push(sub);
    await sub.waitForLine(/received SUBACK/);
    assert.equal(await sub.waitForLine(/^Subscribed \(mid: \d+\):/), "Subscribed (mid: 1): 0");
    const set = call(1, "mosq", "properties:set", { params: { power: "on" } });
    const line = await sub.waitForLine(/^\$sys\//);
    const exit = await sub.finished();
    assert.equal(exit.code, 0, describeRun(sub.command, exit));
    const space = line.indexOf(" ");
    assert.equal(line.slice(0, space), setTopic);
    const envelope = JSON.parse(line.slice(space + 1)) as Envelope;
    assert.deepEqual(envelope, { id: envelope.id, version: "1.0", params: { power: "on" } });

    const pub = await runCliClient(
      "mosquitto_pub",
      deviceCommand({
        port,
        device: registered,
        protocol: "mqttv5",
        qos: 1,
        topics: [`${setTopic}_reply`],
        body: ["-m", JSON.stringify({ id: envelope.id, code: 200, msg: "switched" })],
      }),
    );
    assert.equal(pub.code, 0, describeRun(pub.command, pub));
    const answered = await set;
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.deepEqual(answered.body, { id: envelope.id, code: 200, msg: "switched" });
  });
});

/**
 * The AWS IoT Device Shadow dialect (DIALECTS.md §1) with AWS's official device SDKs,
 * unmodified: `aws-iot-device-sdk-v2` 1.28.0 (`IotShadowClientv2` over plain TCP with
 * MQTT 3.1.1 and 5, and over mutual TLS through `AwsIotMqttConnectionConfigBuilder`)
 * and `aws-iot-device-sdk` 2.2.16 (`thingShadow` over mutual TLS), against `umbra all`
 * on real NATS and Redis. Certificates are issued by `umbra device add --cert` from the
 * development CA the test's own data directory holds.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AwsV1Device,
  AwsV2Device,
  type AwsV2Transport,
  letAwsCrtExit,
  rejectionOf,
} from "../src/aws.js";
import {
  ALL_IN_ONE_ADMIN_KEY,
  type AllInOne,
  type RegisteredDevice,
  registerCertifiedDevice,
  registerDevice,
  startAllInOne,
  TestDevice,
  withDeadline,
} from "../src/harness.js";

const ADMIN = ALL_IN_ONE_ADMIN_KEY;
const PID = "awsp";

let cluster: AllInOne;
let mqttPort: number;
const open: { close(): Promise<void> }[] = [];

const device = (deviceName: string): RegisteredDevice =>
  registerDevice(cluster.redis.url, PID, deviceName);

/** A device with a certificate the development CA signed (`umbra device add --cert`). */
const certifiedDevice = (deviceName: string) =>
  registerCertifiedDevice(cluster.redis.url, cluster.dataDir, PID, deviceName).certificate;

/** v1's `thingShadow` for `thing`, over mutual TLS with its certificate. */
const connectV1 = async (thing: string): Promise<AwsV1Device> => {
  const v1 = await AwsV1Device.connect({
    clientId: thing,
    port: cluster.tlsPort,
    ...certifiedDevice(thing),
  });
  open.push(v1);
  return v1;
};

const plain = (kind: "mqtt311" | "mqtt5", d: RegisteredDevice): AwsV2Transport => ({
  kind,
  port: mqttPort,
  username: PID,
  password: d.token,
});

const connectV2 = async (clientId: string, transport: AwsV2Transport): Promise<AwsV2Device> => {
  const sdk = await AwsV2Device.connect(clientId, transport);
  open.push(sdk);
  return sdk;
};

const shadowPath = (dn: string, name?: string) =>
  `/v1/products/${PID}/devices/${dn}/${name === undefined ? "shadow" : `shadows/${name}`}`;

const patchDesired = async (dn: string, desired: Record<string, unknown>, name?: string) => {
  const patched = await cluster.http("PATCH", shadowPath(dn, name), {
    key: ADMIN,
    type: "application/merge-patch+json",
    body: { desired },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  return patched.body as { version: number };
};

before(async () => {
  cluster = await startAllInOne();
  mqttPort = Number(new URL(cluster.mqttUrl).port);
  const made = await cluster.http("POST", "/v1/products", { key: ADMIN, body: { id: PID } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
});

after(async () => {
  await Promise.allSettled(open.map((d) => d.close()));
  await cluster?.stop();
  letAwsCrtExit();
});

describe("the AWS v2 SDK's IotShadowClientv2", () => {
  for (const kind of ["mqtt311", "mqtt5"] as const) {
    it(`over plain TCP (${kind}): update → accepted, get, an API desired write on the delta and documents streams, a stale version → 409 with the clientToken, delete → get 404`, async () => {
      const thing = `lamp-${kind}`;
      const d = device(thing);
      const sdk = await connectV2(thing, plain(kind, d));

      const updated = await sdk.shadow.updateShadow({
        thingName: thing,
        state: { reported: { color: "green", level: 3 } },
      });
      assert.equal(updated.version, 1);
      assert.deepEqual(updated.state?.reported, { color: "green", level: 3 });
      assert.ok(typeof updated.clientToken === "string" && updated.clientToken.length > 0);
      assert.ok(Number(updated.timestamp) < 1e11, "timestamp in seconds");

      const got = await sdk.shadow.getShadow({ thingName: thing });
      assert.equal(got.version, 1);
      assert.deepEqual(got.state?.reported, { color: "green", level: 3 });

      const deltas = await sdk.stream("delta", thing);
      const documents = await sdk.stream("documents", thing);
      const written = await patchDesired(thing, { color: "red" });
      const delta = await deltas.next("update/delta");
      assert.deepEqual(delta.state, { color: "red" });
      assert.equal(delta.version, written.version);
      const docs = await documents.next("update/documents");
      assert.equal(docs.previous?.version, 1);
      assert.deepEqual(docs.previous?.state?.reported, { color: "green", level: 3 });
      assert.equal(docs.current?.version, written.version);
      assert.deepEqual(docs.current?.state?.desired, { color: "red" });

      const conflict = await rejectionOf(
        sdk.shadow.updateShadow({
          thingName: thing,
          state: { reported: { color: "red" } },
          version: 1,
        }),
      );
      assert.equal(conflict.code, 409);
      assert.equal(conflict.message, "Version conflict");
      // The SDK puts a token of its own on every request and completes it only on an
      // answer echoing that token: this rejection arrived, so the token was echoed.
      assert.ok(typeof conflict.clientToken === "string" && conflict.clientToken.length > 0);
      const unchanged = await sdk.shadow.getShadow({ thingName: thing });
      assert.equal(unchanged.version, written.version, "a refused update changes nothing");

      const deleted = await sdk.shadow.deleteShadow({ thingName: thing });
      assert.equal(deleted.version, written.version, "delete/accepted names the version deleted");
      const missing = await rejectionOf(sdk.shadow.getShadow({ thingName: thing }));
      assert.equal(missing.code, 404);
      assert.equal(missing.message, `No shadow exists with name: ${thing}`);
    });
  }

  it("named shadows live beside the classic one, each with its own version line, delta stream and delete", async () => {
    const thing = "multi";
    const d = device(thing);
    const sdk = await connectV2(thing, plain("mqtt5", d));
    const classic = await sdk.shadow.updateShadow({
      thingName: thing,
      state: { reported: { on: true } },
    });
    assert.equal(classic.version, 1);
    for (let i = 0; i < 2; i++) {
      const named = await sdk.shadow.updateNamedShadow({
        thingName: thing,
        shadowName: "battery",
        state: { reported: { level: 90 - i } },
      });
      assert.equal(named.version, i + 1);
    }
    const config = await sdk.shadow.updateNamedShadow({
      thingName: thing,
      shadowName: "config",
      state: { reported: { rate: 5 } },
    });
    assert.equal(config.version, 1);

    const deltas = await sdk.stream("delta", thing, "config");
    const written = await patchDesired(thing, { rate: 10 }, "config");
    const delta = await deltas.next("config's update/delta");
    assert.deepEqual(delta.state, { rate: 10 });
    assert.equal(delta.version, written.version);

    const battery = await sdk.shadow.getNamedShadow({ thingName: thing, shadowName: "battery" });
    assert.deepEqual(battery.state?.reported, { level: 89 });
    assert.equal(battery.version, 2);

    await sdk.shadow.deleteNamedShadow({ thingName: thing, shadowName: "battery" });
    const gone = await rejectionOf(
      sdk.shadow.getNamedShadow({ thingName: thing, shadowName: "battery" }),
    );
    assert.equal(gone.code, 404);
    assert.equal(gone.message, "No shadow exists with name: battery");
    const stillThere = await sdk.shadow.getShadow({ thingName: thing });
    assert.deepEqual(stillThere.state?.reported, { on: true });
    assert.equal(stillThere.version, 1, "the classic shadow has its own version line");
  });

  it("over mutual TLS (AwsIotMqttConnectionConfigBuilder, ALPN x-amzn-mqtt-ca): update, get", async () => {
    const thing = "mtls-v2";
    const certificate = certifiedDevice(thing);
    const sdk = await connectV2(thing, { kind: "mtls", port: cluster.tlsPort, ...certificate });
    const updated = await sdk.shadow.updateShadow({
      thingName: thing,
      state: { reported: { fw: "1.2.0" } },
    });
    assert.equal(updated.version, 1);
    const got = await sdk.shadow.getShadow({ thingName: thing });
    assert.deepEqual(got.state?.reported, { fw: "1.2.0" });
  });
});

describe("the AWS v1 SDK's thingShadow over mutual TLS", () => {
  it("registers (seven filters in one SUBSCRIBE), updates, gets, hears a delta, deletes", async () => {
    const thing = "v1-lamp";
    const v1 = await connectV1(thing);
    await v1.register(thing);

    const token = v1.shadow.update(thing, { state: { reported: { power: "on" } } });
    assert.ok(token !== null);
    const updated = await v1.statuses.next("update status");
    assert.equal(updated.stat, "accepted", JSON.stringify(updated));
    assert.equal(updated.clientToken, token);
    assert.equal(updated.body.version, 1);

    const getToken = v1.shadow.get(thing);
    const got = await v1.statuses.next("get status");
    assert.equal(got.stat, "accepted", JSON.stringify(got));
    assert.equal(got.clientToken, getToken);
    assert.deepEqual((got.body.state as { reported: unknown }).reported, { power: "on" });

    await patchDesired(thing, { power: "off" });
    const delta = await v1.deltas.next("delta");
    assert.deepEqual(delta.state, { power: "off" });

    const deleteToken = v1.shadow.delete(thing);
    const deleted = await v1.statuses.next("delete status");
    assert.equal(deleted.stat, "accepted", JSON.stringify(deleted));
    assert.equal(deleted.clientToken, deleteToken);
    assert.equal(v1.timeouts.unread, 0);
  });

  it("a version it did not hear of gets rejected 409 Version conflict", async () => {
    const thing = "v1-conflict";
    const v1 = await connectV1(thing);
    // Subscribed only around its own requests, deltas ignored: it learns no version
    // from the API write below, and sends the one it last saw.
    await v1.register(thing, { persistentSubscribe: false, ignoreDeltas: true });
    v1.shadow.update(thing, { state: { reported: { t: 1 } } });
    assert.equal((await v1.statuses.next("first update")).stat, "accepted");
    await patchDesired(thing, { t: 2 });
    v1.shadow.update(thing, { state: { reported: { t: 3 } } });
    const refused = await v1.statuses.next("stale update");
    assert.equal(refused.stat, "rejected", JSON.stringify(refused));
    assert.equal(refused.body.code, 409);
    assert.equal(refused.body.message, "Version conflict");
  });
});

describe("AWS across dialects", () => {
  it("a OneNET gateway's desired write for its sub-device reaches the AWS device's delta stream, and the AWS device's desired write reaches the gateway's delta", async () => {
    const sub = device("aws-sub");
    const gateway = device("aws-gw");
    const put = await cluster.http(
      "PUT",
      `/v1/products/${PID}/devices/aws-gw/subdevices/${PID}/aws-sub`,
      {
        key: ADMIN,
      },
    );
    assert.ok(put.status < 300, JSON.stringify(put.body));
    const sdk = await connectV2("aws-sub", plain("mqtt311", sub));
    await sdk.shadow.updateShadow({
      thingName: "aws-sub",
      state: { reported: { valve: "closed" } },
    });
    const deltas = await sdk.stream("delta", "aws-sub");

    const gw = await TestDevice.connect(cluster.mqttUrl, gateway, {
      subscribe: [
        `$sys/${PID}/aws-sub/image/update/accepted`,
        `$sys/${PID}/aws-sub/image/update/delta`,
      ],
    });
    open.push(gw);
    await gw.client.publishAsync(
      `$sys/${PID}/aws-sub/image/update`,
      JSON.stringify({ state: { desired: { valve: "open" } } }),
      { qos: 1 },
    );
    await gw.next("/image/update/accepted");
    // The gateway's own write left desired ≠ reported: its delta comes first.
    const own = await gw.next("/image/update/delta");
    assert.deepEqual((own.body as { state: unknown }).state, { valve: "open" });
    const delta = await deltas.next("update/delta from the gateway's write");
    assert.deepEqual(delta.state, { valve: "open" });

    await sdk.shadow.updateShadow({ thingName: "aws-sub", state: { desired: { valve: "half" } } });
    const pushed = await gw.next("/image/update/delta");
    assert.deepEqual((pushed.body as { state: unknown }).state, { valve: "half" });
  });
});

describe("AWS hostile cases", () => {
  it("another thing's topics get SUBACK 0x80 and the connection stays; publishing as another thing changes nothing", async () => {
    const d = device("guard");
    const victim = device("victim");
    const raw = await TestDevice.connect(cluster.mqttUrl, d);
    open.push(raw);
    const { client } = raw;
    // mqtt.js rejects a SUBSCRIBE with any refused filter: read the SUBACK itself.
    const subacks: number[][] = [];
    client.on("packetreceive", (packet) => {
      if (packet.cmd === "suback") subacks.push([...(packet.granted as number[])]);
    });
    await client
      .subscribeAsync([
        "$aws/things/victim/shadow/update/accepted",
        "$aws/things/+/shadow/update/delta",
        "$aws/things/guard/shadow/get/+",
      ])
      .catch(() => undefined);
    assert.deepEqual(subacks, [[0x80, 0x80, 0]]);
    await client
      .publishAsync(
        "$aws/things/victim/shadow/update",
        JSON.stringify({ state: { reported: { pwned: true } } }),
        { qos: 1 },
      )
      .catch(() => undefined);
    // The connection is still up and served.
    const answer = new Promise<string>((resolve) =>
      client.on("message", (topic, payload) => {
        if (topic === "$aws/things/guard/shadow/get/accepted") resolve(payload.toString());
        if (topic === "$aws/things/guard/shadow/get/rejected") resolve(payload.toString());
      }),
    );
    await client.publishAsync("$aws/things/guard/shadow/get", "{}", { qos: 1 });
    await withDeadline(answer, 10_000, () => "guard's own get was not answered");
    const shadow = await cluster.http("GET", shadowPath(victim.deviceName), { key: ADMIN });
    assert.equal(shadow.status, 404, "the victim has no shadow: nothing was written");
  });

  it("past 10 shadow requests in flight on one connection, a request is rejected 429 with its clientToken; every request is answered once", async () => {
    const d = device("burst");
    const raw = await TestDevice.connect(cluster.mqttUrl, d);
    open.push(raw);
    const { client } = raw;
    await client.subscribeAsync("$aws/things/burst/shadow/get/+");
    const answers = new Map<string, { topic: string; code: number | undefined }>();
    let count = 0;
    const all = new Promise<void>((resolve) =>
      client.on("message", (topic, payload) => {
        const body = JSON.parse(payload.toString()) as { clientToken: string; code?: number };
        assert.ok(!answers.has(body.clientToken), `${body.clientToken} answered twice`);
        answers.set(body.clientToken, { topic, code: body.code });
        if (++count === 30) resolve();
      }),
    );
    // Thirty gets written at once: the edge reads them in one go, before any answer.
    for (let i = 0; i < 30; i++)
      client.publish("$aws/things/burst/shadow/get", JSON.stringify({ clientToken: `t${i}` }));
    await withDeadline(all, 15_000, () => `only ${count} of 30 gets were answered`);
    const throttled = [...answers.values()].filter((a) => a.code === 429);
    assert.ok(throttled.length >= 1, "some requests past the tenth were throttled");
    assert.ok(throttled.length <= 20, "at least ten went through");
    for (const a of throttled) assert.equal(a.topic, "$aws/things/burst/shadow/get/rejected");
  });
});

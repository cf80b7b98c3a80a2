/**
 * The Alibaba Cloud shadow dialect (seed 002) with the official device SDK,
 * `alibabacloud-iot-device-sdk` 1.2.8, unmodified: `umbra all` on real NATS and Redis,
 * the SDK over plain TCP in this process and over TLS in a child process that trusts
 * the development CA through NODE_EXTRA_CA_CERTS, as the SDK's users must.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { type AliyunDeviceOptions, AliyunTestDevice } from "../src/aliyun.js";
import {
  ALL_IN_ONE_ADMIN_KEY,
  type AllInOne,
  type RegisteredDevice,
  registerDevice,
  startAllInOne,
  TestDevice,
} from "../src/harness.js";

const ADMIN = ALL_IN_ONE_ADMIN_KEY;
const PK = "ali1";

let cluster: AllInOne;
let brokerUrl: string;
let tlsUrl: string;
let http: AllInOne["http"];
const open: AliyunTestDevice[] = [];

const device = (productId: string, deviceName: string): RegisteredDevice =>
  registerDevice(cluster.redis.url, productId, deviceName);

const optionsOf = (d: RegisteredDevice, url = brokerUrl): AliyunDeviceOptions => ({
  brokerUrl: url,
  productKey: d.productId,
  deviceName: d.deviceName,
  deviceSecret: d.key,
});

const connect = async (d: RegisteredDevice): Promise<AliyunTestDevice> => {
  const sdk = await AliyunTestDevice.connect(optionsOf(d));
  open.push(sdk);
  return sdk;
};

const shadowOf = async (d: RegisteredDevice) => {
  const answer = await http("GET", `/v1/products/${d.productId}/devices/${d.deviceName}/shadow`, {
    key: ADMIN,
  });
  return answer;
};

before(async () => {
  cluster = await startAllInOne();
  brokerUrl = cluster.mqttUrl;
  tlsUrl = `mqtts://localhost:${cluster.tlsPort}`;
  http = cluster.http;
});

after(async () => {
  await Promise.allSettled(open.map((d) => d.close()));
  await cluster?.stop();
});

describe("the Alibaba device SDK over plain TCP", () => {
  it("connects with its sign, and each of its 16 connect SUBSCRIBEs is answered: its shadow topic granted, the rest 0x80, no disconnect", async () => {
    const sdk = await connect(device(PK, "subs"));
    // The SDK sends them one SUBSCRIBE each right after CONNACK; a get round trip
    // after them proves the connection outlived every refusal.
    sdk.sdk.getShadow();
    const answer = await sdk.next();
    assert.equal(answer.method, "reply");
    assert.equal(sdk.subacks.length, 16, `SUBACK codes: ${sdk.subacks.join(",")}`);
    assert.deepEqual(
      sdk.subacks.filter((code) => code !== 0x80),
      [0],
      "only /shadow/get/{pk}/{dn} is granted (QoS 0: the edge sends QoS 0)",
    );
  });

  it("postShadow is answered with the version it asked for (Date.now()), and getShadow returns the document at it", async () => {
    const d = device(PK, "lamp");
    const sdk = await connect(d);
    const before = Date.now();
    sdk.sdk.postShadow({ color: "red", level: 3 });
    const reply = await sdk.next();
    assert.equal(reply.method, "reply");
    assert.equal(reply.payload.status, "success", JSON.stringify(reply));
    const version = reply.payload.version as number;
    assert.ok(
      version >= before && version <= Date.now(),
      `version ${version} is the request's Date.now()`,
    );
    assert.ok(Number.isInteger(reply.timestamp) && reply.timestamp < 1e11, "timestamp in seconds");

    sdk.sdk.getShadow();
    const got = await sdk.next();
    assert.equal(got.method, "reply");
    assert.equal(got.payload.status, "success");
    assert.deepEqual(got.payload.state?.reported, { color: "red", level: 3 });
    assert.equal(got.version, version);
    const metadata = got.payload.metadata as { reported: { color: { timestamp: number } } };
    assert.ok(metadata.reported.color.timestamp < 1e11, "metadata timestamps in seconds");

    const api = await shadowOf(d);
    assert.equal(api.status, 200);
    assert.equal((api.body as { version: number }).version, version);
  });

  it("a desired write through the API reaches the device as control, with the whole document", async () => {
    const d = device(PK, "fan");
    const sdk = await connect(d);
    sdk.sdk.postShadow({ speed: 1 });
    await sdk.next();
    const patched = await http("PATCH", `/v1/products/${PK}/devices/fan/shadow`, {
      key: ADMIN,
      type: "application/merge-patch+json",
      body: { desired: { speed: 3 } },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const control = await sdk.next();
    assert.equal(control.method, "control");
    assert.equal(control.payload.status, "success");
    assert.deepEqual(control.payload.state, { reported: { speed: 1 }, desired: { speed: 3 } });
    assert.equal(control.version, (patched.body as { version: number }).version);
  });

  it("what a device reported over OneNET it reads back through the Alibaba SDK: one shadow, any dialect", async () => {
    // One device, two dialects: what one writes the other reads.
    const d = device(PK, "both");
    const onenet = await TestDevice.connect(brokerUrl, d, {
      subscribe: [`$sys/${PK}/both/image/update/accepted`],
    });
    await onenet.client.publishAsync(
      `$sys/${PK}/both/image/update`,
      JSON.stringify({ state: { reported: { mode: "eco" } } }),
      { qos: 1 },
    );
    await onenet.next("/image/update/accepted");
    await onenet.close();
    const sdk = await connect(d);
    sdk.sdk.getShadow();
    const got = await sdk.next();
    assert.deepEqual(got.payload.state?.reported, { mode: "eco" });
  });

  it("a desired write by a device of another dialect (a OneNET gateway for its sub-device) reaches the Alibaba device as control", async () => {
    const sub = device(PK, "meter");
    const gateway = device(PK, "gw");
    const put = await http("PUT", `/v1/products/${PK}/devices/gw/subdevices/${PK}/meter`, {
      key: ADMIN,
    });
    assert.ok(put.status < 300, JSON.stringify(put.body));
    const sdk = await connect(sub);
    sdk.sdk.postShadow({ valve: "closed" });
    await sdk.next();
    const gw = await TestDevice.connect(brokerUrl, gateway, {
      subscribe: [`$sys/${PK}/meter/image/update/accepted`],
    });
    await gw.client.publishAsync(
      `$sys/${PK}/meter/image/update`,
      JSON.stringify({ state: { desired: { valve: "open" } } }),
      { qos: 1 },
    );
    await gw.next("/image/update/accepted");
    await gw.close();
    const control = await sdk.next();
    assert.equal(control.method, "control", JSON.stringify(control));
    assert.deepEqual(control.payload.state, {
      reported: { valve: "closed" },
      desired: { valve: "open" },
    });
  });

  it("deleteShadow(['k']) removes that property and deleteShadow() all of reported", async () => {
    const d = device(PK, "del");
    const sdk = await connect(d);
    sdk.sdk.postShadow({ a: 1, b: 2, c: 3 });
    await sdk.next();
    sdk.sdk.deleteShadow(["a"]);
    const one = await sdk.next();
    assert.equal(one.payload.status, "success", JSON.stringify(one));
    sdk.sdk.getShadow();
    assert.deepEqual((await sdk.next()).payload.state?.reported, { b: 2, c: 3 });

    sdk.sdk.deleteShadow();
    const all = await sdk.next();
    assert.equal(all.payload.status, "success", JSON.stringify(all));
    const api = await shadowOf(d);
    assert.deepEqual((api.body as { reported: unknown }).reported, {});
  });

  it('a stale version is refused with errorcode "409" and changes nothing; version -1 clears the shadow and resets it to 0', async () => {
    const d = device(PK, "ver");
    const sdk = await connect(d);
    sdk.sdk.postShadow({ t: 20 });
    const first = await sdk.next();
    const topic = `/shadow/update/${PK}/ver`;
    sdk.sdk.publish(
      topic,
      JSON.stringify({ method: "update", state: { reported: { t: 99 } }, version: 1 }),
    );
    const stale = await sdk.next();
    assert.equal(stale.method, "reply");
    assert.equal(stale.payload.status, "error");
    assert.deepEqual(stale.payload.content, {
      errorcode: "409",
      errormessage: stale.payload.content?.errormessage,
    });
    assert.equal(typeof stale.payload.content?.errorcode, "string");
    const unchanged = await shadowOf(d);
    assert.deepEqual((unchanged.body as { reported: unknown }).reported, { t: 20 });
    assert.equal((unchanged.body as { version: number }).version, first.payload.version);

    sdk.sdk.publish(
      topic,
      JSON.stringify({ method: "update", state: { reported: { fresh: true } }, version: -1 }),
    );
    const reset = await sdk.next();
    assert.equal(reset.payload.status, "success", JSON.stringify(reset));
    assert.equal(reset.payload.version, 0);
    sdk.sdk.getShadow();
    const got = await sdk.next();
    assert.equal(got.version, 0);
    assert.deepEqual(got.payload.state?.reported, { fresh: true });
    // A small version is newer than 0 again.
    sdk.sdk.publish(
      topic,
      JSON.stringify({ method: "update", state: { reported: { n: 1 } }, version: 1 }),
    );
    assert.equal((await sdk.next()).payload.version, 1);
  });

  it("bad requests get the table's codes: not JSON 400, no method 401, no state 402, an unknown method 406, empty 407", async () => {
    const sdk = await connect(device(PK, "bad"));
    const topic = `/shadow/update/${PK}/bad`;
    const cases: [string, string][] = [
      ["{not json", "400"],
      [JSON.stringify({ state: { reported: { a: 1 } } }), "401"],
      [JSON.stringify({ method: "update", version: 5 }), "402"],
      [JSON.stringify({ method: "patch", state: { reported: { a: 1 } } }), "406"],
      ["", "407"],
    ];
    for (const [payload, code] of cases) {
      sdk.sdk.publish(topic, payload);
      const answer = await sdk.next();
      assert.equal(
        answer.payload.content?.errorcode,
        code,
        `${payload} → ${JSON.stringify(answer)}`,
      );
    }
  });

  it("a wrong secret is refused at CONNECT (bad username or password)", async () => {
    const d = device(PK, "wrong");
    const code = await AliyunTestDevice.refusal({ ...optionsOf(d), deviceSecret: "not-the-key" });
    assert.equal(code, 4);
  });

  it("a device of another product cannot reach a foreign device's topics: SUBACK 0x80, its publishes change nothing", async () => {
    const victim = device("ali2", "victim");
    const sdk = await connect(device(PK, "intruder"));
    sdk.sdk.postShadow({ mine: 1 });
    await sdk.next();
    const granted = await new Promise<number[]>((resolve, reject) =>
      sdk.sdk.subscribe(`/shadow/get/ali2/victim`, { qos: 1 }, (error, g) =>
        error === null ? resolve(g.map((x) => x.qos)) : reject(error),
      ),
    );
    assert.deepEqual(granted, [0x80]);
    sdk.sdk.publish(
      `/shadow/update/ali2/victim`,
      JSON.stringify({
        method: "update",
        state: { reported: { owned: true } },
        version: Date.now(),
      }),
    );
    // Its own request after the foreign one is answered: the foreign one went nowhere.
    sdk.sdk.getShadow();
    const own = await sdk.next();
    assert.deepEqual(own.payload.state?.reported, { mine: 1 }, JSON.stringify(own));
    assert.equal((await shadowOf(victim)).status, 404);
    // Its credentials do not open another product's device either.
    const code = await AliyunTestDevice.refusal({ ...optionsOf(victim), deviceSecret: "guess" });
    assert.equal(code, 4);
  });
});

describe("the Alibaba device SDK over TLS", () => {
  it("connects to mqtts:// with the CA from NODE_EXTRA_CA_CERTS, reports and reads its shadow", async () => {
    const d = device(PK, "secure");
    const run = await promisify(execFile)(
      process.execPath,
      [
        join(import.meta.dirname, "..", "src", "aliyun-tls-child.js"),
        JSON.stringify(optionsOf(d, tlsUrl)),
      ],
      {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: cluster.caPath },
        timeout: 30_000,
      },
    );
    const out = JSON.parse(run.stdout) as {
      posted: { payload: { status: string; version: number } };
      got: { payload: { state: { reported: unknown } }; version: number };
      subacks: number[];
    };
    assert.equal(out.posted.payload.status, "success");
    assert.deepEqual(out.got.payload.state.reported, { over: "tls" });
    assert.equal(out.got.version, out.posted.payload.version);
    assert.equal(out.subacks.length, 16);
  });
});

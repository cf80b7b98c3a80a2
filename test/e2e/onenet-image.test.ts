/**
 * OneNET device image end to end (seed 000): real NATS and Redis of the test's own,
 * `umbra all` as a separate process, mqtt.js devices authenticating with tokens issued
 * by `umbra device add`. Every row and error code of the seed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, ShadowClient } from "@umbra/bus";
import mqtt from "mqtt";
import {
  type RegisteredDevice,
  registerDevice,
  type Server,
  type ServiceProcess,
  startNats,
  startRedis,
  startService,
  TestDevice,
} from "../src/harness.js";

interface Image {
  state: Record<string, unknown>;
  metadata: Record<string, unknown>;
  version: number;
  timestamp: number;
}
interface Rejected {
  err_code: number;
  err_msg: string;
}

let nats: Server;
let redis: Server;
let umbra: ServiceProcess;
let url: string;
const devices: Record<string, RegisteredDevice> = {};

const image = (d: RegisteredDevice, suffix: string) =>
  `$sys/${d.productId}/${d.deviceName}/image/${suffix}`;

const connect = async (name: string, protocolVersion: 4 | 5 = 4) => {
  const d = devices[name] as RegisteredDevice;
  return TestDevice.connect(url, d, { protocolVersion, subscribe: [image(d, "#")] });
};

before(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  umbra = await startService(["all"], {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    MQTT_PORT: "0",
    HTTP_PORT: "0",
    MQTT_HOST: "127.0.0.1",
    UMBRA_AUTH: "on",
  });
  url = `mqtt://127.0.0.1:${umbra.ready.edge?.mqttPort}`;
  for (const name of ["d1", "d2", "d3", "d4", "d5", "d6"])
    devices[name] = registerDevice(redis.url, "p1", name);
});

after(async () => {
  await umbra?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe("OneNET device image over MQTT", () => {
  it("update of desired and reported → update/accepted with the applied state, then the delta", async () => {
    const device = await connect("d1");
    const d = devices.d1 as RegisteredDevice;
    const before = Math.floor(Date.now() / 1000);
    await device.client.publishAsync(
      image(d, "update"),
      JSON.stringify({ state: { desired: { color: "green" }, reported: { color: "red" } } }),
    );
    const accepted = (await device.next("image/update/accepted")).body as Image;
    assert.deepEqual(accepted.state, { desired: { color: "green" }, reported: { color: "red" } });
    assert.equal(accepted.version, 1);
    assert.ok(accepted.timestamp >= before);
    assert.deepEqual(accepted.metadata, {
      desired: { color: { timestamp: accepted.timestamp } },
      reported: { color: { timestamp: accepted.timestamp } },
    });
    // The delta, exactly in the seed's shape.
    const delta = (await device.next("image/update/delta")).body as Image;
    assert.deepEqual(delta, {
      state: { color: "green" },
      metadata: { color: { timestamp: accepted.timestamp } },
      version: 1,
      timestamp: accepted.timestamp,
    });

    // get (empty payload) → the whole image.
    await device.client.publishAsync(image(d, "get"), "");
    const got = (await device.next("image/get/accepted")).body as Image;
    assert.deepEqual(got.state, { desired: { color: "green" }, reported: { color: "red" } });
    assert.equal(got.version, 1);
    assert.deepEqual(Object.keys(got.metadata).sort(), ["desired", "reported"]);

    // Reported catching up with desired → accepted, and no delta.
    await device.client.publishAsync(
      image(d, "update"),
      JSON.stringify({ state: { reported: { color: "green" } } }),
    );
    assert.equal(((await device.next("image/update/accepted")).body as Image).version, 2);
    // Answers to one device come in order: once the next get is answered, a delta for
    // the catching-up write would have arrived before it.
    await device.client.publishAsync(image(d, "get"), "");
    await device.next("image/get/accepted");
    assert.equal(device.topics().filter((t) => t.endsWith("/delta")).length, 1);
    await device.close();
  });

  it("answers every error of the seed's table on update/rejected, changing nothing", async () => {
    const device = await connect("d2");
    const d = devices.d2 as RegisteredDevice;
    const deep = (n: number): unknown => (n === 0 ? 1 : { x: deep(n - 1) });
    const cases: [string, number, string][] = [
      ["{not json", 160, "illegal json"],
      [
        JSON.stringify({ state: { reported: { big: "x".repeat(17 * 1024) } } }),
        161,
        "json out of bound",
      ],
      [JSON.stringify({ state: { reported: deep(12) } }), 162, "json depth out of bound"],
      [JSON.stringify({ reported: { a: 1 } }), 163, "state key not found"],
      [JSON.stringify({ state: {} }), 164, "desired or reported key not found"],
      [
        JSON.stringify({ state: { reported: { "bad key$": 1 }, other: 2 } }),
        165,
        "invalid parameters",
      ],
    ];
    for (const [payload, code, message] of cases) {
      await device.client.publishAsync(image(d, "update"), payload);
      const rejected = (await device.next("image/update/rejected")).body as Rejected;
      assert.deepEqual(rejected, { err_code: code, err_msg: message }, `payload for ${code}`);
    }
    // Nothing was written: reading the image is refused with 167 (it does not exist).
    await device.client.publishAsync(image(d, "get"), "");
    assert.deepEqual((await device.next("image/get/rejected")).body, {
      err_code: 167,
      err_msg: "device image not exists",
    });
    assert.equal(device.topics().filter((t) => t.endsWith("/accepted")).length, 0);
    await device.close();
  });

  it("QoS 1 update and get are acknowledged with PUBACK once processed", async () => {
    const device = await connect("d3");
    const d = devices.d3 as RegisteredDevice;
    const pubacks: number[] = [];
    device.client.on("packetreceive", (packet) => {
      if (packet.cmd === "puback") pubacks.push(packet.messageId as number);
    });
    const sent = await device.client.publishAsync(
      image(d, "update"),
      JSON.stringify({ state: { reported: { temperature: 21.5 } } }),
      { qos: 1 },
    );
    // publishAsync resolves on the PUBACK for this packet id.
    assert.deepEqual(pubacks, [sent?.messageId]);
    // The PUBACK follows the durable write: the accepted answer is already on its way.
    assert.equal(((await device.next("image/update/accepted")).body as Image).version, 1);
    const sentGet = await device.client.publishAsync(image(d, "get"), "", { qos: 1 });
    assert.deepEqual(pubacks, [sent?.messageId, sentGet?.messageId]);
    await device.next("image/get/accepted");
    await device.close();
  });

  it("a cloud update of desired reaches the device as a delta", async () => {
    const device = await connect("d4");
    const nc = await connectBus({ url: nats.url, name: "test-cloud" });
    try {
      const client = new ShadowClient(nc, 1024);
      const reply = await client.update("p1/d4", { desired: { mode: "eco" } });
      assert.equal(reply.ok, true);
      const delta = (await device.next("image/update/delta")).body as Image;
      assert.deepEqual(delta.state, { mode: "eco" });
      assert.equal(delta.version, 1);
      // No update/accepted for a write the device did not make.
      await device.client.publishAsync(image(devices.d4 as RegisteredDevice, "get"), "");
      await device.next("image/get/accepted");
      assert.equal(device.topics().filter((t) => t.endsWith("update/accepted")).length, 0);
    } finally {
      await nc.close();
      await device.close();
    }
  });

  it("a device can neither read nor write another device's image", async () => {
    const intruder = await connect("d5");
    const victim = devices.d6 as RegisteredDevice;
    const refused = await intruder.client.subscribeAsync(image(victim, "update/accepted")).then(
      () => undefined,
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted,
    );
    assert.deepEqual(refused, [128]);
    // MQTT 3.1.1: the publish is dropped; the victim's image is never created.
    await intruder.client.publishAsync(
      image(victim, "update"),
      JSON.stringify({ state: { desired: { hijacked: true } } }),
      { qos: 1 },
    );
    const nc = await connectBus({ url: nats.url, name: "test-cloud" });
    try {
      const reply = await new ShadowClient(nc, 1024).get("p1/d6");
      assert.equal(reply.ok, false);
    } finally {
      await nc.close();
    }
    await intruder.close();

    // MQTT 5: the connection is closed with reason 0x87 (not authorized).
    const v5 = await connect("d5", 5);
    const closed = new Promise<number | undefined>((resolve) =>
      v5.client.once("disconnect", (packet) => resolve(packet.reasonCode)),
    );
    v5.client.publish(image(victim, "update"), JSON.stringify({ state: { desired: { a: 1 } } }));
    assert.equal(await closed, 0x87);
    await v5.close();
  });

  it("refuses a bad token (3.1.1 return code 4, MQTT 5 reason 0x86) and an unknown device", async () => {
    const d = devices.d1 as RegisteredDevice;
    const forged = d.token.replace(/sign=[^&]*/, "sign=AAAA");
    for (const [protocolVersion, code] of [
      [4, 4],
      [5, 0x86],
    ] as const) {
      const error = await mqtt
        .connectAsync(url, {
          clientId: d.deviceName,
          username: d.productId,
          password: forged,
          protocolVersion,
          reconnectPeriod: 0,
        })
        .then(
          () => undefined,
          (e: { code?: number }) => e,
        );
      assert.equal(error?.code, code, `MQTT ${protocolVersion}`);
    }
    const unknown = await mqtt
      .connectAsync(url, {
        clientId: "ghost",
        username: "p1",
        password: d.token,
        reconnectPeriod: 0,
      })
      .then(
        () => undefined,
        (e: { code?: number }) => e,
      );
    assert.equal(unknown?.code, 5);
  });
});

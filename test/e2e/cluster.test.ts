/**
 * The distributed path under concurrent load: two edge processes, two shard processes
 * (each owning half of the partitions), one reply process, 200 devices, 20,000 updates
 * from devices (QoS 1) and the cloud at once. Every device's stored version must equal
 * the number of its accepted updates, and every accepted update must be in its shadow.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, type NatsConnection, ShadowClient } from "@umbra/bus";
import type { ShadowDocument } from "@umbra/core";
import {
  type Server,
  type ServiceProcess,
  startNats,
  startRedis,
  startService,
  TestDevice,
} from "../src/harness.js";

const DEVICES = 200;
const DEVICE_UPDATES = 75; // per device, QoS 1
const CLOUD_UPDATES = 25; // per device
const IN_FLIGHT = 10; // per device

let nats: Server;
let redis: Server;
const processes: ServiceProcess[] = [];
let nc: NatsConnection;

before(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const env = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    MQTT_HOST: "127.0.0.1",
    MQTT_PORT: "0",
    UMBRA_AUTH: "off",
  };
  processes.push(
    ...(await Promise.all([
      startService(["shard"], { ...env, SHARD_PARTITIONS: "0-511" }),
      startService(["shard"], { ...env, SHARD_PARTITIONS: "512-1023" }),
      startService(["reply"], env),
      startService(["edge"], { ...env, EDGE_ID: "edge-a" }),
      startService(["edge"], { ...env, EDGE_ID: "edge-b" }),
    ])),
  );
  nc = await connectBus({ url: nats.url, name: "test-cloud" });
});

after(async () => {
  await nc?.close();
  await Promise.all(processes.map((p) => p.stop()));
  await Promise.all([nats?.stop(), redis?.stop()]);
});

/** Runs `tasks` with at most `limit` at once. */
const pool = async (count: number, limit: number, task: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await task(next++);
    }),
  );
};

describe("two edges, two shards, 200 devices, 20,000 concurrent updates", () => {
  it("stores every accepted update, once, and counts versions exactly", async () => {
    const edges = processes.filter((p) => p.ready.edge !== undefined);
    assert.equal(edges.length, 2);
    const devices = await Promise.all(
      Array.from({ length: DEVICES }, (_, i) =>
        TestDevice.connect(
          `mqtt://127.0.0.1:${(edges[i % 2] as ServiceProcess).ready.edge?.mqttPort}`,
          { productId: "load", deviceName: `dev-${i}` },
        ),
      ),
    );
    const cloud = new ShadowClient(nc, 1024, 30_000);
    let cloudAccepted = 0;
    try {
      await Promise.all([
        // Devices: each key written once, QoS 1, IN_FLIGHT at a time per device.
        ...devices.map((device, i) =>
          pool(DEVICE_UPDATES, IN_FLIGHT, async (n) => {
            await device.client.publishAsync(
              `$sys/load/dev-${i}/image/update`,
              JSON.stringify({ state: { reported: { [`r${n}`]: n } } }),
              { qos: 1 },
            );
          }),
        ),
        // The cloud, at the same time: desired keys, 100 requests in flight.
        pool(DEVICES * CLOUD_UPDATES, 100, async (k) => {
          const i = k % DEVICES;
          const n = Math.floor(k / DEVICES);
          const reply = await cloud.update(`load/dev-${i}`, { desired: { [`c${n}`]: n } });
          assert.equal(reply.ok, true, JSON.stringify(reply));
          cloudAccepted++;
        }),
      ]);
    } finally {
      await Promise.all(devices.map((d) => d.close()));
    }
    assert.equal(cloudAccepted, DEVICES * CLOUD_UPDATES);

    for (let i = 0; i < DEVICES; i++) {
      const reply = await cloud.get(`load/dev-${i}`);
      assert.ok(reply.ok, `dev-${i}: ${JSON.stringify(reply)}`);
      const doc = reply.document as ShadowDocument;
      assert.equal(doc.version, DEVICE_UPDATES + CLOUD_UPDATES, `dev-${i} version`);
      assert.equal(Object.keys(doc.reported).length, DEVICE_UPDATES, `dev-${i} reported keys`);
      assert.equal(Object.keys(doc.desired).length, CLOUD_UPDATES, `dev-${i} desired keys`);
      for (let n = 0; n < DEVICE_UPDATES; n++) assert.equal(doc.reported[`r${n}`], n);
    }
  });

  it("a device connecting to another edge takes its session over (MQTT 5 DISCONNECT 0x8E)", async () => {
    const [a, b] = processes.filter((p) => p.ready.edge !== undefined) as [
      ServiceProcess,
      ServiceProcess,
    ];
    const device = { productId: "load", deviceName: "roamer" };
    const first = await TestDevice.connect(`mqtt://127.0.0.1:${a.ready.edge?.mqttPort}`, device, {
      protocolVersion: 5,
    });
    const takenOver = new Promise<number | undefined>((resolve) =>
      first.client.once("disconnect", (packet) => resolve(packet.reasonCode)),
    );
    const second = await TestDevice.connect(`mqtt://127.0.0.1:${b.ready.edge?.mqttPort}`, device, {
      protocolVersion: 5,
      subscribe: ["$sys/load/roamer/image/update/accepted"],
    });
    assert.equal(await takenOver, 0x8e);
    // The new session is the device's: its requests are answered there.
    await second.client.publishAsync(
      "$sys/load/roamer/image/update",
      JSON.stringify({ state: { reported: { at: "b" } } }),
    );
    await second.next("image/update/accepted");
    await Promise.all([first.close(), second.close()]);
  });
});

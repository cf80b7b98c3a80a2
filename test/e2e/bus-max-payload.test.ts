/**
 * Batches against a NATS server announcing a small `max_payload` (4 KiB): devices whose
 * QoS 1 windows, a shard's turn of events and the reply's frames to an edge each add up
 * to more than the server takes must go out split, and a message too large even alone is
 * dropped and counted — no process ends with "max_payload size exceeded".
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, type NatsConnection, ShadowClient } from "@umbra/bus";
import type { ShadowDocument } from "@umbra/core";
import {
  metricsUrlOf,
  pollUntil,
  type ServiceProcess,
  type ServiceTier,
  scrapeSample,
  startServiceTier,
  TestDevice,
  withDeadline,
} from "../src/harness.js";

const MAX_PAYLOAD = 4096;

let tier: ServiceTier;
let nc: NatsConnection;
const processes: ServiceProcess[] = [];
let edge: ServiceProcess;

before(async () => {
  tier = await startServiceTier({}, { maxPayload: MAX_PAYLOAD });
  edge = tier.edge;
  processes.push(tier.shard, tier.reply, tier.edge);
  nc = await connectBus({ url: tier.nats.url, name: "test-cloud" });
  assert.equal(nc.info?.max_payload, MAX_PAYLOAD, "the server announces the small limit");
});

after(async () => {
  await nc?.close();
  await tier?.stop();
});

const logs = () => processes.map((p) => `\n${p.logs()}`).join("");

const alive = () => {
  for (const p of processes) assert.equal(p.proc.exitCode, null, p.logs());
};

const metric = (process: ServiceProcess, series: string) =>
  scrapeSample(metricsUrlOf(process), series);

/** ~2.5 KB: one fits the limit, two do not. */
const blob = (n: number) => `${n}`.padEnd(2_500, "x");

describe("a NATS server with max_payload 4096", () => {
  it("carries QoS 1 windows, a shard's turn and the answers split; every write is stored", async () => {
    const url = `mqtt://127.0.0.1:${edge.ready.edge?.mqttPort}`;
    const names = ["d0", "d1", "d2", "d3"];
    const devices = await Promise.all(
      names.map((name) =>
        TestDevice.connect(
          url,
          { productId: "mp", deviceName: name },
          { subscribe: [`$sys/mp/${name}/image/update/accepted`] },
        ),
      ),
    );
    const perDevice = 8;
    // Each device's window written at once: one read at the edge, one batch per partition.
    const acked = Promise.all(
      devices.flatMap((device, d) =>
        Array.from({ length: perDevice }, (_, n) =>
          device.client.publishAsync(
            `$sys/mp/${names[d]}/image/update`,
            JSON.stringify({ state: { reported: { n, blob: blob(n) } } }),
            { qos: 1 },
          ),
        ),
      ),
    );
    await withDeadline(acked, 20_000, () => `not every update was acknowledged${logs()}`);
    for (const device of devices)
      for (let n = 0; n < perDevice; n++) await device.next("/image/update/accepted");
    const client = new ShadowClient(nc, 1024);
    for (const name of names) {
      const answer = await client.get(`mp/${name}`);
      assert.ok(answer.ok, JSON.stringify(answer));
      const doc = answer.document as ShadowDocument;
      assert.equal(doc.version, perDevice);
      assert.deepEqual(doc.reported, { n: perDevice - 1, blob: blob(perDevice - 1) });
    }
    client.close();
    await Promise.all(devices.map((d) => d.close()));
    alive();
  });

  it("drops a message too large even alone, counts it, and keeps serving", async () => {
    const url = `mqtt://127.0.0.1:${edge.ready.edge?.mqttPort}`;
    const device = await TestDevice.connect(
      url,
      { productId: "mp", deviceName: "big" },
      { subscribe: ["$sys/mp/big/image/update/accepted"] },
    );
    const before = await metric(edge, 'umbra_bus_dropped_total{reason="oversize"}');
    await device.client.publishAsync(
      "$sys/mp/big/image/update",
      JSON.stringify({ state: { reported: { big: "y".repeat(5_000) } } }),
      { qos: 0 },
    );
    await pollUntil(
      async () => (await metric(edge, 'umbra_bus_dropped_total{reason="oversize"}')) > before,
      { timeoutMs: 10_000, what: "the edge counts the oversize command" },
    );
    // The same device is still served.
    await withDeadline(
      device.client.publishAsync(
        "$sys/mp/big/image/update",
        JSON.stringify({ state: { reported: { small: 1 } } }),
        { qos: 1 },
      ),
      10_000,
      () => `the update after the oversize one was not acknowledged${logs()}`,
    );
    const accepted = await device.next("/image/update/accepted");
    assert.ok(accepted.body !== undefined);
    await device.close();
    // The operator was told at start that such publishes cannot be forwarded.
    await edge.waitForLog((line) => String(line.msg).startsWith("MQTT_MAX_PACKET_BYTES is close"));
    alive();
  });
});

/**
 * A device flooding QoS 0 while NATS is away: the edge drops and counts what it cannot
 * send instead of letting the NATS client buffer it without bound, and serves again when
 * NATS is back.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  pollUntil,
  type Server,
  type ServiceProcess,
  type ServiceTier,
  scrapeSample,
  startServiceTier,
  TestDevice,
  withDeadline,
} from "../src/harness.js";

let nats: Server;
let tier: ServiceTier;
const processes: ServiceProcess[] = [];
let edge: ServiceProcess;

before(async () => {
  tier = await startServiceTier();
  nats = tier.nats;
  edge = tier.edge;
  processes.push(tier.shard, tier.reply, tier.edge);
});

after(async () => {
  await tier?.stop();
});

const ops = () => `http://127.0.0.1:${edge.ready.edge?.opsPort}`;
/** Each process's `/readyz`: the edge, the shard and the reply service reconnect on their own schedules. */
const readyzOf = (p: ServiceProcess): string => {
  const line = Object.values(p.ready)[0];
  return `http://127.0.0.1:${line?.opsPort}/readyz`;
};
const dropped = (): Promise<number> =>
  scrapeSample(`${ops()}/metrics`, 'umbra_bus_dropped_total{reason="disconnected"}');

describe("QoS 0 during a NATS outage", () => {
  it("is dropped and counted at the edge, not buffered; the device is served once NATS is back", async () => {
    const url = `mqtt://127.0.0.1:${edge.ready.edge?.mqttPort}`;
    const device = await TestDevice.connect(
      url,
      { productId: "out", deviceName: "q0" },
      { subscribe: ["$sys/out/q0/image/update/accepted"] },
    );
    // Halted, not stopped: stop() removes its data, which restart() reuses.
    await nats.halt();
    await pollUntil(async () => (await fetch(`${ops()}/readyz`)).status === 503, {
      timeoutMs: 10_000,
      what: "the edge notices NATS is gone",
    });
    const before = await dropped();
    const count = 5_000;
    const payload = JSON.stringify({ state: { reported: { pad: "z".repeat(2_000) } } });
    for (let i = 0; i < count; i++)
      device.client.publish("$sys/out/q0/image/update", payload, { qos: 0 });
    await pollUntil(async () => (await dropped()) - before >= count, {
      timeoutMs: 20_000,
      what: `the edge counts ${count} QoS 0 publishes dropped`,
    });
    assert.equal((await dropped()) - before, count);

    await nats.restart();
    // Core NATS keeps nothing for a subscriber that has not reconnected yet: the reply
    // to the update below would be lost if the reply service were still away, so wait
    // for every process, not only the edge.
    await pollUntil(
      async () => {
        for (const p of processes) if ((await fetch(readyzOf(p))).status !== 200) return false;
        return true;
      },
      { timeoutMs: 30_000, what: "the edge, the shard and the reply service are ready again" },
    );
    await withDeadline(
      device.client.publishAsync(
        "$sys/out/q0/image/update",
        JSON.stringify({ state: { reported: { back: 1 } } }),
        { qos: 1 },
      ),
      15_000,
      () => "the update after the outage was not acknowledged",
    );
    await device.next("/image/update/accepted", 15_000);
    await device.close();
    for (const p of processes) assert.equal(p.proc.exitCode, null, p.logs());
  });
});

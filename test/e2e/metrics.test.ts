/**
 * Operations endpoints of every service process: `/readyz` answers 200 once each serves,
 * and `/metrics` counts what a device's update did on its way through edge, shard and
 * reply. Then `umbra all`: one listener whose readiness and metrics cover every service.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  pollUntil,
  registerDevice,
  type Server,
  type ServiceProcess,
  sampleOf,
  startNats,
  startRedis,
  startService,
  TestDevice,
} from "../src/harness.js";

let nats: Server;
let redis: Server;
const processes: ServiceProcess[] = [];

const env = () => ({
  NATS_URL: nats.url,
  REDIS_URL: redis.url,
  MQTT_HOST: "127.0.0.1",
  MQTT_PORT: "0",
  OPS_PORT: "0",
  OPS_HOST: "127.0.0.1",
  MEMBER_HEARTBEAT_MS: "100",
  MEMBER_LEASE_MS: "1000",
});

const opsOf = (process: ServiceProcess, service: string): string => {
  const port = process.ready[service]?.opsPort;
  assert.equal(typeof port, "number", `${service}'s ready line names its ops port`);
  return `http://127.0.0.1:${port}`;
};

const scrape = async (base: string): Promise<string> => {
  const answer = await fetch(`${base}/metrics`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return answer.text();
};

/** The value of the sample `series` (name and labels exactly as exposed), NaN when absent. */
const sample = (text: string, series: string): number => sampleOf(text, series) ?? Number.NaN;

const untilReady = (base: string, what: string) =>
  pollUntil(async () => (await fetch(`${base}/readyz`)).status === 200, {
    timeoutMs: 15_000,
    what: `${what} answers /readyz with 200`,
  });

before(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
});

after(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe("operations endpoints of edge, shard and reply processes", () => {
  let edge: ServiceProcess;
  let shard: ServiceProcess;
  let reply: ServiceProcess;

  before(async () => {
    [shard, reply, edge] = await Promise.all([
      startService(["shard"], { ...env(), SHARD_ID: "metrics-shard" }),
      startService(["reply"], env()),
      startService(["edge"], { ...env(), EDGE_ID: "metrics-edge" }),
    ]);
    processes.push(shard, reply, edge);
  });

  it("each is ready, and /metrics counts a device's update at every hop", async () => {
    const [edgeOps, shardOps, replyOps] = [
      opsOf(edge, "edge"),
      opsOf(shard, "shard"),
      opsOf(reply, "reply"),
    ];
    await untilReady(edgeOps, "the edge");
    await untilReady(shardOps, "the shard");
    await untilReady(replyOps, "the reply service");
    for (const base of [edgeOps, shardOps, replyOps])
      assert.equal((await fetch(`${base}/healthz`)).status, 200);

    const registered = registerDevice(redis.url, "metrics", "m-1");
    const url = `mqtt://127.0.0.1:${edge.ready.edge?.mqttPort}`;
    // A wrong token is refused, and counted as such.
    await assert.rejects(
      TestDevice.connect(url, { productId: "metrics", deviceName: "m-1", token: "wrong" }),
    );
    const device = await TestDevice.connect(url, registered, {
      subscribe: ["$sys/metrics/m-1/image/update/accepted"],
    });
    try {
      await device.client.publishAsync(
        "$sys/metrics/m-1/image/update",
        JSON.stringify({ state: { reported: { temperature: 21.5 } } }),
        { qos: 1 },
      );
      await device.next("/image/update/accepted");

      // Every count was made before the answer reached the device.
      const edgeText = await scrape(edgeOps);
      assert.equal(sample(edgeText, 'umbra_edge_messages_in_total{dialect="onenet"}'), 1);
      assert.equal(sample(edgeText, 'umbra_edge_messages_out_total{dialect="onenet"}'), 1);
      assert.equal(sample(edgeText, 'umbra_edge_connects_total{result="accepted"}'), 1);
      assert.equal(sample(edgeText, 'umbra_edge_connects_total{result="refused"}'), 1);
      assert.equal(sample(edgeText, "umbra_edge_connections"), 1);
      assert.equal(sample(edgeText, "umbra_edge_command_timeouts_total"), 0);

      const shardText = await scrape(shardOps);
      assert.equal(
        sample(shardText, 'umbra_shard_commands_total{op="update",result="accepted"}'),
        1,
      );
      assert.equal(sample(shardText, 'umbra_shard_command_duration_seconds_count{op="update"}'), 1);
      assert.equal(sample(shardText, "umbra_shard_actors"), 1);
      assert.equal(sample(shardText, "umbra_shard_partitions_owned"), 1024);
      assert.equal(sample(shardText, "umbra_shard_cas_conflicts_total"), 0);

      const replyText = await scrape(replyOps);
      assert.equal(sample(replyText, "umbra_reply_events_total"), 1);
      assert.equal(sample(replyText, 'umbra_reply_messages_out_total{dialect="onenet"}'), 1);

      for (const text of [edgeText, shardText, replyText]) {
        assert.equal(sample(text, "umbra_nats_errors_total"), 0);
        assert.equal(sample(text, "umbra_nats_reconnects_total"), 0);
        assert.ok(sample(text, "process_cpu_seconds_total") >= 0, "default process metrics");
      }
    } finally {
      await device.close();
    }
    await pollUntil(async () => sample(await scrape(edgeOps), "umbra_edge_connections") === 0, {
      timeoutMs: 10_000,
      what: "the edge counts no open session after the device left",
    });
  });

  it("the shard also serves /cluster, and an unknown path is 404", async () => {
    const shardOps = opsOf(shard, "shard");
    const cluster = (await (await fetch(`${shardOps}/cluster`)).json()) as { assigned: number };
    assert.equal(cluster.assigned, 1024);
    assert.equal((await fetch(`${shardOps}/nothing`)).status, 404);
  });

  it("counts NATS and Redis losses and reconnects, and is ready again after them", async () => {
    const shardOps = opsOf(shard, "shard");
    await nats.restart();
    await redis.restart();
    const counted = async () => {
      const text = await scrape(shardOps);
      return (
        sample(text, "umbra_nats_errors_total") >= 1 &&
        sample(text, "umbra_nats_reconnects_total") >= 1 &&
        sample(text, "umbra_redis_errors_total") >= 1 &&
        sample(text, "umbra_redis_reconnects_total") >= 1
      );
    };
    await pollUntil(counted, { timeoutMs: 15_000, what: "the shard counts both reconnects" });
    await untilReady(shardOps, "the shard, reconnected,");
    await untilReady(opsOf(reply, "reply"), "the reply service, reconnected,");
    await untilReady(opsOf(edge, "edge"), "the edge, reconnected,");
  });
});

describe("umbra all: one operations listener for every service", () => {
  it("is ready when all are, and /metrics has every service's metrics", async () => {
    const all = await startService(["all"], {
      ...env(),
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      API_AUTH: "off",
      SHARD_ID: "metrics-all",
    });
    processes.push(all);
    const ops = opsOf(all, "umbra");
    await untilReady(ops, "umbra all");
    const ready = (await (await fetch(`${ops}/readyz`)).json()) as {
      services: Record<string, { ready: boolean }>;
    };
    assert.deepEqual(Object.keys(ready.services).sort(), ["api", "edge", "reply", "shard"]);
    const text = await scrape(ops);
    for (const name of [
      "umbra_edge_connections",
      "umbra_shard_partitions_owned",
      "umbra_reply_events_total",
      "umbra_api_event_streams",
      "umbra_redis_errors_total",
    ])
      assert.match(text, new RegExp(`^${name} `, "m"));
    await all.stop();
  });
});

/**
 * A line that can repeat once per message is rate-limited: 3,000 unreadable acks on an
 * edge's inbox (what a broken or hostile publisher, or a shard-less cluster, produces)
 * are a handful of log lines, not 3,000.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, edgeSubject, type NatsConnection } from "@umbra/bus";
import {
  type Server,
  type ServiceProcess,
  startNats,
  startRedis,
  startService,
} from "../src/harness.js";

let nats: Server;
let redis: Server;
let nc: NatsConnection;
let edge: ServiceProcess;

before(async () => {
  [nats, redis] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
  edge = await startService(["edge"], {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    MQTT_HOST: "127.0.0.1",
    MQTT_PORT: "0",
    UMBRA_AUTH: "off",
    EDGE_ID: "flood-edge",
  });
  nc = await connectBus({ url: nats.url, name: "test-flood" });
});

after(async () => {
  await nc?.close();
  await edge?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe("log floods", () => {
  it("logs a few of 3,000 unreadable acks, not every one", async () => {
    let lines = 0;
    const counting = edge.waitForLog((line) => {
      if (line.msg === "unreadable ack dropped") lines++;
      return false;
    }, 30_000);
    counting.catch(() => undefined);
    const inbox = edgeSubject("flood-edge");
    for (let i = 0; i < 3_000; i++) nc.publish(inbox, "not an ack");
    // Then an edge deliver frame cut short: another message, logged once; the inbox is
    // read in order, so when it shows every ack before it has been handled.
    nc.publish(inbox, Uint8Array.of(3, 0));
    await edge.waitForLog((line) => line.msg === "unreadable edge delivery dropped", 20_000);
    assert.ok(lines >= 1, "the first ones are logged");
    assert.ok(lines <= 10, `${lines} lines for 3,000 unreadable acks`);
    assert.equal(edge.proc.exitCode, null);
  });
});

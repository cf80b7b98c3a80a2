/**
 * QoS 1 end to end: PUBACK only once the shard has stored the update, no PUBACK when
 * no shard answers, and a retransmission (DUP) never applies an update twice — whether
 * the first transmission was applied (its PUBACK lost) or never arrived.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connectBus, type NatsConnection, ShadowClient } from "@umbra/bus";
import type { ShadowDocument } from "@umbra/core";
import mqttPacket, { type Packet } from "mqtt-packet";
import {
  type Server,
  type ServiceProcess,
  startNats,
  startRedis,
  startService,
  withDeadline,
} from "../src/harness.js";

/** A device speaking MQTT 3.1.1 packet by packet, so a test can set DUP and packet ids. */
class RawDevice {
  readonly packets: Packet[] = [];
  /** Resolves when the edge (or the test) closes the connection. */
  readonly closed: Promise<void>;
  #waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (packet) => {
      this.packets.push(packet);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    socket.on("data", (chunk) => parser.parse(chunk));
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static async connect(port: number, productId: string, deviceName: string): Promise<RawDevice> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const device = new RawDevice(socket);
    device.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: true,
      clientId: deviceName,
      username: productId,
      keepalive: 60,
    });
    const connack = await device.waitFor((p) => p.cmd === "connack");
    assert.equal((connack as { returnCode?: number }).returnCode, 0);
    return device;
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet));
  }

  publish(topic: string, payload: string, messageId: number, dup: boolean): void {
    this.send({ cmd: "publish", topic, payload, qos: 1, messageId, dup, retain: false });
  }

  /** The first packet received (ever) that `match` accepts, within a deadline. */
  async waitFor(match: (p: Packet) => boolean, timeoutMs = 10_000): Promise<Packet> {
    const find = async (): Promise<Packet> => {
      for (;;) {
        const found = this.packets.find(match);
        if (found !== undefined) return found;
        await new Promise<void>((wake) => this.#waiters.push(wake));
      }
    };
    return withDeadline(find(), timeoutMs, () => `no matching packet within ${timeoutMs} ms`);
  }

  pubacks(messageId: number): number {
    return this.packets.filter((p) => p.cmd === "puback" && p.messageId === messageId).length;
  }

  close(): void {
    this.socket.destroy();
  }
}

let nats: Server;
let redis: Server;
let edge: ServiceProcess;
let reply: ServiceProcess;
let shard: ServiceProcess | undefined;
let nc: NatsConnection;
let port: number;
let env: Record<string, string>;

before(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  env = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    MQTT_HOST: "127.0.0.1",
    MQTT_PORT: "0",
    UMBRA_AUTH: "off",
    COMMAND_RETRY_MS: "200",
    COMMAND_DEADLINE_MS: "1500",
  };
  [shard, reply, edge] = await Promise.all([
    startService(["shard"], env),
    startService(["reply"], env),
    startService(["edge"], env),
  ]);
  port = edge.ready.edge?.mqttPort as number;
  nc = await connectBus({ url: nats.url, name: "test-cloud" });
});

after(async () => {
  await nc?.close();
  await Promise.all([shard?.stop(), reply?.stop(), edge?.stop()]);
  await Promise.all([nats?.stop(), redis?.stop()]);
});

const stored = async (deviceKey: string): Promise<ShadowDocument> => {
  const answer = await new ShadowClient(nc, 1024).get(deviceKey);
  assert.ok(answer.ok, JSON.stringify(answer));
  return answer.document as ShadowDocument;
};

const update = (key: string, value: number) =>
  JSON.stringify({ state: { reported: { [key]: value } } });

describe("QoS 1 retransmissions", () => {
  it("a DUP of an applied update is acknowledged again and not applied twice", async () => {
    const device = await RawDevice.connect(port, "p1", "dup-applied");
    const topic = "$sys/p1/dup-applied/image/update";
    device.publish(topic, update("a", 1), 7, false);
    await device.waitFor((p) => p.cmd === "puback" && p.messageId === 7);
    // Its PUBACK "lost": the device sends it again, marked DUP.
    device.publish(topic, update("a", 1), 7, true);
    await device.waitFor((p) => p.cmd === "puback" && p.messageId === 7 && device.pubacks(7) === 2);
    assert.equal((await stored("p1/dup-applied")).version, 1);

    // The same packet id with another payload is a new message (ids are reused after
    // their PUBACK): applied.
    device.publish(topic, update("b", 2), 7, true);
    await device.waitFor(() => device.pubacks(7) === 3);
    const doc = await stored("p1/dup-applied");
    assert.equal(doc.version, 2);
    assert.deepEqual(doc.reported, { a: 1, b: 2 });
    device.close();
  });

  it("no PUBACK while no shard answers; the session is closed; the retransmission after reconnecting is applied exactly once", async () => {
    const device = await RawDevice.connect(port, "p1", "dup-lost");
    const topic = "$sys/p1/dup-lost/image/update";
    device.publish(topic, update("x", 1), 11, false);
    await device.waitFor((p) => p.cmd === "puback" && p.messageId === 11);

    await shard?.stop();
    shard = undefined;
    device.publish(topic, update("y", 2), 12, false);
    // The edge re-sends it marked DUP while waiting, then gives up: no PUBACK, and the
    // session is closed so that the device reconnects and retransmits.
    await edge.waitForLog((line) => String(line.msg).startsWith("no shard answered"));
    await withDeadline(device.closed, 10_000, () => "the edge did not close the session");
    assert.equal(device.pubacks(12), 0);

    shard = await startService(["shard"], env);
    const again = await RawDevice.connect(port, "p1", "dup-lost");
    again.publish(topic, update("y", 2), 12, true);
    await again.waitFor((p) => p.cmd === "puback" && p.messageId === 12);
    again.publish(topic, update("y", 2), 12, true);
    await again.waitFor(() => again.pubacks(12) === 2);
    const doc = await stored("p1/dup-lost");
    assert.equal(doc.version, 2);
    assert.deepEqual(doc.reported, { x: 1, y: 2 });
    again.close();
  });
});

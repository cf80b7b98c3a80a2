/**
 * Flood: QoS 1 devices at their in-flight window (32) with payloads near the limits
 * (~14 KB, under MQTT_MAX_PACKET_BYTES and the 16 KiB document limit) and one device
 * flooding QoS 0, all on one shard, at several times what it processes. Nothing may
 * crash; the shard sheds (QoS 1 not acked: the edge gives up, the device reconnects and
 * resends with DUP; QoS 0 dropped and counted); every acknowledged write is stored; the
 * processes' memory stays under a ceiling.
 *
 * The shard's bounds are set low (ACTOR_MAILBOX_MAX 64, SHARD_QUEUE_MAX_BYTES 1 MiB) so
 * that a flood a 2-core CI machine can produce passes them within seconds.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { ShadowDocument } from "@umbra/core";
import { connectRedis, type Redis, RedisShadowStore } from "@umbra/store";
import mqttPacket, { type Packet } from "mqtt-packet";
import {
  metricsUrlOf,
  type ServiceProcess,
  type ServiceTier,
  scrapeSample,
  startServiceTier,
  withDeadline,
} from "../src/harness.js";

/** Devices at their window, and the writes each makes. */
const QOS1_DEVICES = 6;
const WRITES_PER_DEVICE = 120;
const WINDOW = 32;
/** How long the QoS 0 device floods. */
const FLOOD_MS = 6_000;
/**
 * Peak RSS per process (MB). Measured on a 2-core machine: with the bounds 156–163 (shard),
 * 149–155 (reply), 177–189 (edge); without them (mailboxes unbounded) the shard reached
 * 277 and the reply 219 in the same few seconds, and grow with the flood's length.
 */
const RSS_CEILING_MB = 250;

let tier: ServiceTier;
let redis: Redis;
const processes: ServiceProcess[] = [];
let edge: ServiceProcess;
let shard: ServiceProcess;
let mqttPort: number;

before(async () => {
  tier = await startServiceTier({
    ACTOR_MAILBOX_MAX: "64",
    SHARD_QUEUE_MAX_BYTES: String(1024 * 1024),
    // No re-send by the edge before it gives up: a shed QoS 1 command ends its session,
    // and the device resends it with DUP.
    COMMAND_RETRY_MS: "1000",
    COMMAND_DEADLINE_MS: "1000",
  });
  ({ shard, edge } = tier);
  processes.push(tier.shard, tier.reply, tier.edge);
  mqttPort = edge.ready.edge?.mqttPort as number;
  redis = await connectRedis(tier.redis.url, "flood-test");
});

after(async () => {
  await redis?.quit();
  await tier?.stop();
});

const metric = (process: ServiceProcess, series: string): Promise<number> =>
  scrapeSample(metricsUrlOf(process), series);

const rssMb = (pid: number | undefined): number => {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb === null ? 0 : Number(kb[1]) / 1024;
  } catch {
    return 0;
  }
};

/** An MQTT 3.1.1 connection, packet by packet: the test sets DUP and packet ids itself. */
class Raw {
  readonly closed: Promise<void>;
  #onPacket: (p: Packet) => void = () => undefined;

  private constructor(readonly socket: Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (p) => this.#onPacket(p));
    socket.on("data", (chunk) => parser.parse(chunk));
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static async open(deviceName: string, onPacket: (p: Packet) => void): Promise<Raw> {
    const socket = connect({ host: "127.0.0.1", port: mqttPort });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const raw = new Raw(socket);
    const connack = new Promise<Packet>((resolve) => {
      raw.#onPacket = resolve;
    });
    raw.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: true,
      clientId: deviceName,
      username: "flood",
      keepalive: 60,
    });
    const answer = await withDeadline(connack, 10_000, () => `${deviceName}: no CONNACK`);
    assert.equal((answer as { returnCode?: number }).returnCode, 0);
    raw.#onPacket = onPacket;
    return raw;
  }

  /** False when the socket's buffer is full (wait for 'drain'). */
  send(packet: Packet): boolean {
    return this.socket.write(mqttPacket.generate(packet));
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Outcome {
  readonly device: string;
  readonly sent: number;
  readonly dupResent: number;
  readonly reconnects: number;
}

/**
 * A device writing `writes` updates of ~14 KB with at most WINDOW unacknowledged. When the
 * edge closes its session (no ack in time: the shard shed them), it reconnects and sends
 * every unacknowledged one again marked DUP (MQTT 3.1.1 §4.4), until all are acked.
 */
const qos1Device = async (name: string, writes: number): Promise<Outcome> => {
  const topic = `$sys/flood/${name}/image/update`;
  const pad = "x".repeat(14_000);
  const body = (seq: number) => JSON.stringify({ state: { reported: { seq, pad } } });
  const inflight = new Map<number, number>(); // packet id → seq
  let next = 0;
  let acked = 0;
  let sent = 0;
  let dupResent = 0;
  let reconnects = 0;
  let wake: () => void = () => undefined;
  const onPacket = (p: Packet) => {
    if (p.cmd !== "puback") return;
    if (inflight.delete(p.messageId as number)) acked++;
    wake();
  };
  let raw = await Raw.open(name, onPacket);
  const publish = (seq: number, dup: boolean) => {
    const messageId = (seq % 60_000) + 1;
    inflight.set(messageId, seq);
    raw.send({ cmd: "publish", topic, payload: body(seq), qos: 1, messageId, dup, retain: false });
    sent++;
  };
  while (acked < writes) {
    // The last write alone, once every other was acknowledged: the stored value to expect.
    const upTo = acked < writes - 1 ? writes - 1 : writes;
    while (inflight.size < WINDOW && next < upTo) publish(next++, false);
    const closed = raw.closed.then(() => "closed" as const);
    const progress = new Promise<"progress">((resolve) => {
      wake = () => resolve("progress");
    });
    if ((await Promise.race([closed, progress])) === "closed") {
      reconnects++;
      raw = await Raw.open(name, onPacket);
      for (const seq of [...inflight.values()]) {
        publish(seq, true);
        dupResent++;
      }
    }
  }
  raw.close();
  return { device: name, sent, dupResent, reconnects };
};

/** One device sending QoS 0 updates as fast as its socket takes them, for `ms`. */
const qos0Flood = async (ms: number): Promise<number> => {
  const raw = await Raw.open("q0", () => undefined);
  const topic = "$sys/flood/q0/image/update";
  const payload = (i: number) =>
    JSON.stringify({ state: { reported: { i, pad: "y".repeat(900) } } });
  const end = Date.now() + ms;
  let sent = 0;
  while (Date.now() < end) {
    let room = true;
    for (let k = 0; k < 200 && room; k++) {
      room = raw.send({
        cmd: "publish",
        topic,
        payload: payload(sent),
        qos: 0,
        retain: false,
        dup: false,
      });
      sent++;
    }
    if (!room)
      await Promise.race([new Promise((resolve) => raw.socket.once("drain", resolve)), raw.closed]);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  raw.close();
  return sent;
};

describe("flood", () => {
  it("sheds load past one shard's capacity: no crash, every acknowledged write stored, memory bounded", async (t) => {
    const pids = processes.map((p) => p.proc.pid);
    const peak = pids.map(() => 0);
    const sampler = setInterval(() => {
      pids.forEach((pid, i) => {
        peak[i] = Math.max(peak[i] as number, rssMb(pid));
      });
    }, 200);
    const started = Date.now();
    let floodSent = 0;
    let outcomes: Outcome[] = [];
    try {
      [floodSent, outcomes] = await withDeadline(
        Promise.all([
          qos0Flood(FLOOD_MS),
          Promise.all(
            Array.from({ length: QOS1_DEVICES }, (_, d) => qos1Device(`d${d}`, WRITES_PER_DEVICE)),
          ),
        ]),
        45_000,
        () => `the flood did not finish in time\n${processes.map((p) => p.logs()).join("\n")}`,
      );
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    for (const p of processes) assert.equal(p.proc.exitCode, null, p.logs());

    // Every write was acknowledged in the end: each is stored (QoS 1 is at least once: a
    // write applied while its session was being closed for a late ack, then resent with
    // DUP, may be applied again — the shard's dedup ring catches most; counted below), and
    // the last one wins.
    const store = new RedisShadowStore(redis);
    let duplicates = 0;
    for (let d = 0; d < QOS1_DEVICES; d++) {
      const doc = (await store.load(`flood/d${d}`)).doc as ShadowDocument;
      assert.ok(
        doc.version >= WRITES_PER_DEVICE,
        `d${d}'s version ${doc.version} < ${WRITES_PER_DEVICE}: a write was lost`,
      );
      duplicates += doc.version - WRITES_PER_DEVICE;
      assert.equal(doc.reported.seq, WRITES_PER_DEVICE - 1, `d${d}'s last write`);
    }

    const shedQos0 = await metric(shard, 'umbra_shard_commands_shed_total{kind="qos0"}');
    const shedQos1 = await metric(shard, 'umbra_shard_commands_shed_total{kind="qos1"}');
    const accepted = await metric(
      shard,
      'umbra_shard_commands_total{op="update",result="accepted"}',
    );
    const dupResent = outcomes.reduce((n, o) => n + o.dupResent, 0);
    const qos1Sent = outcomes.reduce((n, o) => n + o.sent, 0);
    t.diagnostic(
      `${seconds.toFixed(1)} s; QoS 0 sent ${floodSent} (${Math.round(floodSent / seconds)}/s), shed ${shedQos0} ` +
        `(${((100 * shedQos0) / floodSent).toFixed(1)} %); QoS 1 sent ${qos1Sent} (${dupResent} DUP resends, ` +
        `${outcomes.reduce((n, o) => n + o.reconnects, 0)} reconnects), shed ${shedQos1}; ` +
        `shard accepted ${accepted} (${Math.round(accepted / seconds)}/s), ${duplicates} applied twice; ` +
        `peak RSS MB shard ${peak[0]?.toFixed(0)}, reply ${peak[1]?.toFixed(0)}, edge ${peak[2]?.toFixed(0)}`,
    );
    assert.ok(shedQos0 > 0, "QoS 0 commands were dropped and counted");
    assert.ok(shedQos1 > 0, "QoS 1 commands were refused (not acked)");
    assert.ok(dupResent > 0, "devices resent unacknowledged writes with DUP");
    for (const [i, mb] of peak.entries())
      assert.ok(
        mb < RSS_CEILING_MB,
        `process ${i}: peak RSS ${mb.toFixed(0)} MB ≥ ${RSS_CEILING_MB} MB`,
      );
  });
});

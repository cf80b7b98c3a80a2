/**
 * Elastic sharding under load (real processes, real NATS and Redis): devices write over
 * MQTT QoS 1 and the cloud over NATS while shards join, leave (SIGTERM) and crash
 * (SIGKILL), and while Redis (append-only file on) and NATS restart. Every update that
 * was acknowledged must be in the final shadow, each exactly once, and versions must
 * never repeat or go back. Recovery times are printed, not asserted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, type NatsConnection, ShadowClient } from "@umbra/bus";
import type { ShadowDocument } from "@umbra/core";
import {
  type ClusterView,
  isSettled,
  pollUntil,
  readCluster,
  type Server,
  type ServiceProcess,
  startNats,
  startRedis,
  startService,
  TestDevice,
} from "../src/harness.js";

const DEVICES = 24;

let nats: Server;
let redis: Server;
let nc: NatsConnection;
let edge: ServiceProcess;
let reply: ServiceProcess;
const shards = new Set<ServiceProcess>();

const env = () => ({
  NATS_URL: nats.url,
  REDIS_URL: redis.url,
  MQTT_HOST: "127.0.0.1",
  MQTT_PORT: "0",
  UMBRA_AUTH: "off",
  MEMBER_HEARTBEAT_MS: "100",
  MEMBER_LEASE_MS: "1000",
  // A QoS 1 command nobody took is re-sent soon, and the device is never given up on
  // during the test's outages.
  COMMAND_RETRY_MS: "250",
  COMMAND_DEADLINE_MS: "60000",
});

const startShard = async (id: string): Promise<ServiceProcess> => {
  const shard = await startService(["shard"], {
    ...env(),
    SHARD_ID: id,
    OPS_PORT: "0",
    OPS_HOST: "127.0.0.1",
  });
  shards.add(shard);
  return shard;
};

const stopShard = async (shard: ServiceProcess, signal: NodeJS.Signals = "SIGTERM") => {
  shards.delete(shard);
  return shard.stop(signal);
};

/** The real CLI: `umbra cluster status --json`. */
const clusterStatus = (): Promise<ClusterView> => readCluster(redis.url);

/** Waits until exactly `ids` serve, every partition once, no hand-off left; prints how long. */
const settledOn = async (ids: string[], since = performance.now()) => {
  await pollUntil(async () => isSettled(await clusterStatus(), ids), {
    timeoutMs: 20_000,
    what: `the cluster settles on ${ids.join(", ")}`,
  });
  console.log(`# settled on ${ids.join(", ")} in ${Math.round(performance.now() - since)} ms`);
};

before(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis({ appendOnly: true })]);
  [edge, reply] = await Promise.all([
    startService(["edge"], { ...env(), EDGE_ID: "edge-chaos" }),
    startService(["reply"], env()),
  ]);
  nc = await connectBus({ url: nats.url, name: "test-cloud" });
});

after(async () => {
  await nc?.close();
  await Promise.all([...shards, edge, reply].map((p) => p?.stop("SIGKILL")));
  await Promise.all([nats?.stop(), redis?.stop()]);
});

/**
 * Steady load: each device writes `r{n}` = n, one QoS 1 publish at a time, and records
 * what was PUBACKed and the versions of its accepted answers; the cloud writes `c{k}`
 * into desired, 8 requests at a time, and records what was answered.
 */
class Load {
  readonly #product: string;
  readonly acked: Set<number>[] = [];
  readonly versions: number[][] = [];
  /** Per device: write n → the version its accepted answer carried. */
  readonly versionOfWrite: Map<number, number>[] = [];
  readonly cloudAcked: Set<number>[] = [];
  readonly cloudVersions: number[][] = [];
  cloudFailures = 0;
  #running = true;
  #loops: Promise<void>[] = [];
  #devices: TestDevice[] = [];

  constructor(product: string) {
    this.#product = product;
  }

  async start(url: string, cloud: ShadowClient): Promise<void> {
    this.#devices = await Promise.all(
      Array.from({ length: DEVICES }, (_, i) =>
        TestDevice.connect(
          url,
          { productId: this.#product, deviceName: `d${i}` },
          { subscribe: [`$sys/${this.#product}/d${i}/image/update/accepted`] },
        ),
      ),
    );
    for (let i = 0; i < DEVICES; i++) {
      this.acked.push(new Set());
      this.versions.push([]);
      this.versionOfWrite.push(new Map());
      this.cloudAcked.push(new Set());
      this.cloudVersions.push([]);
      const versions = this.versions[i] as number[];
      const byWrite = this.versionOfWrite[i] as Map<number, number>;
      (this.#devices[i] as TestDevice).client.on("message", (_topic, payload) => {
        const answer = JSON.parse(payload.toString()) as {
          version: number;
          state: { reported?: Record<string, number> };
        };
        versions.push(answer.version);
        for (const value of Object.values(answer.state.reported ?? {}))
          byWrite.set(value, answer.version);
      });
    }
    this.#loops = [
      ...this.#devices.map(async (device, i) => {
        for (let n = 0; this.#running; n++) {
          await device.client.publishAsync(
            `$sys/${this.#product}/d${i}/image/update`,
            JSON.stringify({ state: { reported: { [`r${n}`]: n } } }),
            { qos: 1 },
          );
          this.acked[i]?.add(n);
        }
      }),
      ...Array.from({ length: 8 }, async (_, w) => {
        for (let k = w; this.#running; k += 8) {
          const i = k % DEVICES;
          const c = Math.floor(k / DEVICES);
          try {
            const answer = await cloud.update(`${this.#product}/d${i}`, {
              desired: { [`c${c}`]: c },
            });
            if (answer.ok) {
              this.cloudAcked[i]?.add(c);
              this.cloudVersions[i]?.push(answer.version);
            }
          } catch {
            // No answer in time: not acknowledged, so not checked (it may still apply).
            this.cloudFailures++;
          }
        }
      }),
    ];
  }

  /** Total acknowledged so far. */
  get progress(): number {
    return this.acked.reduce((sum, s) => sum + s.size, 0);
  }

  /** Resolves once every device has had `more` further updates acknowledged. */
  async everyDeviceProgresses(more: number, what: string): Promise<void> {
    const from = this.acked.map((s) => s.size);
    await pollUntil(() => this.acked.every((s, i) => s.size >= (from[i] ?? 0) + more), {
      timeoutMs: 30_000,
      what,
    });
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    await Promise.all(this.#devices.map((d) => d.close()));
  }
}

/** Every acknowledged write is in the final shadow, once; versions never repeat or go back. */
const checkFinalState = async (load: Load, product: string, cloud: ShadowClient) => {
  for (let i = 0; i < DEVICES; i++) {
    const answer = await cloud.get(`${product}/d${i}`);
    assert.ok(answer.ok, JSON.stringify(answer));
    const doc = answer.document as ShadowDocument;
    for (const n of load.acked[i] ?? []) assert.equal(doc.reported[`r${n}`], n, `d${i} r${n}`);
    for (const c of load.cloudAcked[i] ?? []) assert.equal(doc.desired[`c${c}`], c, `d${i} c${c}`);
    // Each write adds one key and one version: a write applied twice would show here.
    const keys = Object.keys(doc.reported).length + Object.keys(doc.desired).length;
    assert.equal(doc.version, keys, `d${i}: version ${doc.version} for ${keys} writes`);
    const seen = [...(load.versions[i] ?? []), ...(load.cloudVersions[i] ?? [])];
    assert.equal(new Set(seen).size, seen.length, `d${i}: a version was used twice`);
    // A later write never got a lower version. (Answers travel at QoS 0 through the reply
    // service: across a hand-off two shards' answers may arrive in either order, so the
    // order of receipt is not what is checked.)
    const byWrite = [...(load.versionOfWrite[i] ?? new Map<number, number>())].sort(
      ([a], [b]) => a - b,
    );
    for (let w = 1; w < byWrite.length; w++)
      assert.ok(
        (byWrite[w]?.[1] as number) > (byWrite[w - 1]?.[1] as number),
        `d${i}: write ${byWrite[w]?.[0]} got a lower version than write ${byWrite[w - 1]?.[0]}`,
      );
    assert.ok(Math.max(0, ...seen) <= doc.version, `d${i}: final version behind an answer`);
  }
  assert.ok(load.progress > DEVICES * 10, `only ${load.progress} updates acknowledged`);
};

describe("elastic shards under load", () => {
  it("scales 1 → 3 → 2 → 1 and survives a kill -9, losing and repeating nothing", async () => {
    const cloud = new ShadowClient(nc, 1024, 5_000);
    const load = new Load("elastic");
    const first = await startShard("shard-1");
    await settledOn(["shard-1"]);
    await load.start(`mqtt://127.0.0.1:${edge.ready.edge?.mqttPort}`, cloud);
    try {
      await load.everyDeviceProgresses(5, "updates flow through one shard");

      let since = performance.now();
      const [second, third] = await Promise.all([startShard("shard-2"), startShard("shard-3")]);
      await settledOn(["shard-1", "shard-2", "shard-3"], since);
      // The same picture over HTTP, from any member's ops port.
      const ops = `http://127.0.0.1:${first.ready.shard?.opsPort}`;
      const overHttp = (await (await fetch(`${ops}/cluster`)).json()) as ClusterView;
      assert.deepEqual(overHttp.members.map((m) => m.id).sort(), ["shard-1", "shard-2", "shard-3"]);
      assert.equal(overHttp.assigned, 1024);
      assert.equal((await fetch(`${ops}/readyz`)).status, 200);
      await load.everyDeviceProgresses(5, "updates flow through three shards");

      since = performance.now();
      await stopShard(third);
      await settledOn(["shard-1", "shard-2"], since);
      await load.everyDeviceProgresses(5, "updates flow after a shard left");

      since = performance.now();
      await stopShard(second);
      await settledOn(["shard-1"], since);
      await load.everyDeviceProgresses(5, "updates flow after scaling back to one");

      // A crash: no hand-off, the lease runs out, the others take over.
      await Promise.all([startShard("shard-4"), startShard("shard-5")]);
      await settledOn(["shard-1", "shard-4", "shard-5"]);
      const victim = [...shards].find((s) => s !== first) as ServiceProcess;
      const killedAt = performance.now();
      await stopShard(victim, "SIGKILL");
      await load.everyDeviceProgresses(2, "every device is served again after the kill");
      const recoveredMs = performance.now() - killedAt;
      console.log(`# recovery after kill -9 (lease 1000 ms): ${Math.round(recoveredMs)} ms`);
    } finally {
      await load.stop();
    }

    await checkFinalState(load, "elastic", cloud);
  });

  it("survives a restart of Redis (append-only) and of NATS while serving", async () => {
    const cloud = new ShadowClient(nc, 1024, 5_000);
    const load = new Load("restart");
    await load.start(`mqtt://127.0.0.1:${edge.ready.edge?.mqttPort}`, cloud);
    try {
      await load.everyDeviceProgresses(5, "updates flow before the restarts");
      for (const [name, server] of [
        ["Redis", redis],
        ["NATS", nats],
      ] as const) {
        const restartedAt = performance.now();
        await server.restart();
        await load.everyDeviceProgresses(2, `every device is served again after ${name} restarted`);
        console.log(
          `# recovery after a ${name} restart: ${Math.round(performance.now() - restartedAt)} ms`,
        );
      }
    } finally {
      await load.stop();
    }
    await checkFinalState(load, "restart", cloud);
  });
});

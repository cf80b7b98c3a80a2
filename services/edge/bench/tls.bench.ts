/**
 * What TLS costs the edge: `npm run bench:tls -- [--connections=500]
 * [--roundtrips=5000] [--seconds=3]`.
 *
 * The edge server runs in a child process (its CPU time is read there with
 * process.cpuUsage, so the clients' own work is not counted) with a backend that answers
 * every PUBLISH at once with a delivery to the device: the edge's own cost, without NATS,
 * shards or Redis. The same runs go to its plain and its TLS listener (development
 * certificates: ECDSA P-256, TLS 1.3), with mqtt.js clients:
 *  1. connections: N clients connect (25 at a time) and get CONNACK; edge CPU per connection;
 *  2. round trips: one client publishes QoS 0 and waits for the answer, K times;
 *     median and p99 latency, edge CPU per round trip;
 *  3. throughput: one client keeps 64 publishes in flight for S seconds; round trips/s.
 * Prints a table, then one JSON line.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "@umbra/runtime";
import { ensureDevelopmentCertificates } from "@umbra/tls";
import mqtt, { type MqttClient } from "mqtt";
import {
  type AuthResult,
  createEdgeServer,
  type DevicePublish,
  type DeviceSession,
  type EdgeBackend,
} from "../src/index.js";

const PRODUCT = "bench";

/** Accepts every device; answers each update on its `accepted` topic at once. */
class EchoBackend implements EdgeBackend {
  authenticate(credentials: { clientId: string }): Promise<AuthResult> {
    return Promise.resolve({
      ok: true,
      device: { productId: PRODUCT, deviceName: credentials.clientId },
    });
  }
  opened(): void {}
  closed(): void {}
  publish(session: DeviceSession, { topic, payload, qos }: DevicePublish) {
    session.deliver(`${topic}/accepted`, payload);
    return qos === 1 ? Promise.resolve(true) : undefined;
  }
}

type ToChild = { kind: "cpu" };
type FromChild =
  | { kind: "ready"; plain: number; tls: number; ca: string }
  | { kind: "cpu"; micros: number };

const serve = async (): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-tls-bench-"));
  const dev = await ensureDevelopmentCertificates(dir);
  const server = createEdgeServer({
    backend: new EchoBackend(),
    logger: createLogger("bench", "silent"),
    limits: { maxInflight: 1024 },
  });
  const plain = await server.listen(0, "127.0.0.1");
  const tls = await server.listenTls(0, "127.0.0.1", {
    cert: dev.certPem,
    key: dev.keyPem,
    ca: [dev.caPem],
    handshakeTimeoutMs: 10_000,
  });
  rmSync(dir, { recursive: true, force: true });
  process.on("message", (message: ToChild) => {
    if (message.kind === "cpu") {
      const { user, system } = process.cpuUsage();
      process.send?.({ kind: "cpu", micros: user + system } satisfies FromChild);
    }
  });
  process.send?.({ kind: "ready", plain, tls, ca: dev.caPem } satisfies FromChild);
};

const request = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => {
    const on = (message: FromChild) => {
      if (message.kind !== "cpu") return;
      child.off("message", on);
      resolve(message.micros);
    };
    child.on("message", on);
    child.send({ kind: "cpu" } satisfies ToChild);
  });

interface Target {
  readonly name: "plain" | "tls";
  readonly url: string;
  readonly ca?: string;
}

const connectOne = (target: Target, clientId: string): Promise<MqttClient> =>
  mqtt.connectAsync(target.url, {
    clientId,
    username: PRODUCT,
    password: "x",
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    protocolVersion: 4,
    ...(target.ca === undefined ? {} : { ca: target.ca }),
  });

const connections = async (child: ChildProcess, target: Target, count: number) => {
  const clients: MqttClient[] = [];
  const before = await request(child);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 25 }, async () => {
      while (next < count) {
        const i = next++;
        clients.push(await connectOne(target, `${target.name}-c${i}`));
      }
    }),
  );
  const wallMs = performance.now() - started;
  const cpuMicros = (await request(child)) - before;
  await Promise.all(clients.map((c) => c.endAsync(true)));
  return {
    cpuMicrosPerConnection: cpuMicros / count,
    connectionsPerSecond: (count / wallMs) * 1000,
  };
};

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;

const roundTrips = async (child: ChildProcess, target: Target, count: number, seconds: number) => {
  const client = await connectOne(target, `${target.name}-rt`);
  const topic = `$sys/${PRODUCT}/${target.name}-rt/image/update`;
  await client.subscribeAsync(`${topic}/accepted`);
  let answered: () => void = () => {};
  client.on("message", () => answered());
  const payload = JSON.stringify({ state: { reported: { temperature: 21.5, humidity: 40 } } });
  const one = () =>
    new Promise<void>((resolve) => {
      answered = resolve;
      client.publish(topic, payload);
    });
  for (let i = 0; i < 200; i++) await one(); // warm-up
  const latencies: number[] = [];
  const before = await request(child);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await one();
    latencies.push((performance.now() - t0) * 1000);
  }
  const cpuMicros = (await request(child)) - before;
  latencies.sort((a, b) => a - b);

  // Throughput: 64 publishes in flight for `seconds`.
  let done = 0;
  let stop = false;
  client.removeAllListeners("message");
  const finished = new Promise<void>((resolve) => {
    let inflight = 0;
    const send = () => {
      while (!stop && inflight < 64) {
        inflight++;
        client.publish(topic, payload);
      }
      if (stop && inflight === 0) resolve();
    };
    client.on("message", () => {
      inflight--;
      done++;
      send();
    });
    send();
  });
  const t0 = performance.now();
  const throughputBefore = await request(child);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  const elapsed = (performance.now() - t0) / 1000;
  const counted = done;
  const throughputCpu = (await request(child)) - throughputBefore;
  await finished;
  await client.endAsync(true);
  return {
    medianMicros: percentile(latencies, 0.5),
    p99Micros: percentile(latencies, 0.99),
    cpuMicrosPerRoundTrip: cpuMicros / count,
    roundTripsPerSecond: counted / elapsed,
    cpuMicrosPerRoundTripLoaded: throughputCpu / counted,
  };
};

const main = async (): Promise<void> => {
  const { values } = parseArgs({
    options: {
      server: { type: "boolean", default: false },
      connections: { type: "string", default: "500" },
      roundtrips: { type: "string", default: "5000" },
      seconds: { type: "string", default: "3" },
    },
  });
  if (values.server) return serve();
  const child = fork(new URL(import.meta.url).pathname, ["--server"], { stdio: "inherit" });
  try {
    const ready = await new Promise<FromChild & { kind: "ready" }>((resolve) =>
      child.once("message", (m: FromChild) => resolve(m as FromChild & { kind: "ready" })),
    );
    const targets: Target[] = [
      { name: "plain", url: `mqtt://127.0.0.1:${ready.plain}` },
      { name: "tls", url: `mqtts://127.0.0.1:${ready.tls}`, ca: ready.ca },
    ];
    const results: Record<string, unknown> = {};
    for (const target of targets) {
      const connected = await connections(child, target, Number(values.connections));
      const trips = await roundTrips(
        child,
        target,
        Number(values.roundtrips),
        Number(values.seconds),
      );
      results[target.name] = { ...connected, ...trips };
      process.stderr.write(`${target.name} done\n`);
    }
    const row = (name: string) => results[name] as Record<string, number>;
    const fmt = (n: number) => n.toFixed(1).padStart(10);
    const keys = [
      ["cpuMicrosPerConnection", "edge CPU per connection (µs)"],
      ["connectionsPerSecond", "connections/s (25 at a time)"],
      ["medianMicros", "round trip, median (µs)"],
      ["p99Micros", "round trip, p99 (µs)"],
      ["cpuMicrosPerRoundTrip", "edge CPU per round trip (µs)"],
      ["roundTripsPerSecond", "round trips/s, 64 in flight"],
      ["cpuMicrosPerRoundTripLoaded", "edge CPU per round trip, loaded (µs)"],
    ] as const;
    console.log(`${"".padEnd(40)}${"plain".padStart(10)}${"tls".padStart(10)}`);
    for (const [key, label] of keys)
      console.log(`${label.padEnd(40)}${fmt(row("plain")[key] ?? 0)}${fmt(row("tls")[key] ?? 0)}`);
    console.log(JSON.stringify(results));
  } finally {
    child.kill();
  }
};

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

/**
 * `npm run bench:named-shadows`: what a named shadow costs beside a classic one. A shard,
 * reply and edge on their own NATS and Redis; N devices get a classic shadow, then each
 * one named shadow of the same content, written through `ShadowClient` as the API does.
 * Prints, per shadow, what each step added to Redis (`used_memory`) and to the shard's
 * heap (`nodejs_heap_size_used_bytes`, the median of three scrapes: no forced GC, so a
 * rough figure), and `MEMORY USAGE` of one device's keys. `--devices=N` (default 5000,
 * below the shard's 100,000 actors so none is passivated).
 */
import { parseArgs } from "node:util";
import { connectBus, ShadowClient } from "@umbra/bus";
import { connectRedis } from "@umbra/store";
import { metricsUrlOf, scrapeSample } from "../src/metrics.js";
import { type ServiceTier, startServiceTier } from "../src/tier.js";

const { values } = parseArgs({ options: { devices: { type: "string" } } });
const devices = Number(values.devices ?? 5000);
const state = { reported: { temperature: 21.5, humidity: 40.2, status: "ok" } };
const CONCURRENCY = 200;

const usedMemory = async (redis: Awaited<ReturnType<typeof connectRedis>>): Promise<number> => {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
};

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const shardHeap = async (tier: ServiceTier): Promise<number> => {
  const url = metricsUrlOf(tier.shard);
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) samples.push(await scrapeSample(url, "nodejs_heap_size_used_bytes"));
  return median(samples);
};

const writeAll = async (client: ShadowClient, shadow: string | undefined): Promise<void> => {
  for (let start = 0; start < devices; start += CONCURRENCY) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(devices, start + CONCURRENCY); i++)
      batch.push(client.update(`mem/d${i}`, state, undefined, shadow));
    const answers = (await Promise.all(batch)) as { ok?: boolean }[];
    if (answers.some((a) => a.ok === false)) throw new Error("a write was refused");
  }
};

const tier = await startServiceTier();
const nc = await connectBus({ url: tier.nats.url, name: "named-shadow-memory" });
const redis = await connectRedis(tier.redis.url, "named-shadow-memory");
const client = new ShadowClient(nc, 1024);
try {
  const r0 = await usedMemory(redis);
  const h0 = await shardHeap(tier);
  await writeAll(client, undefined);
  const r1 = await usedMemory(redis);
  const h1 = await shardHeap(tier);
  await writeAll(client, "battery");
  const r2 = await usedMemory(redis);
  const h2 = await shardHeap(tier);
  const perShadow = (a: number, b: number) => Math.round((b - a) / devices);
  const classicKey = await redis.memory("USAGE", "umbra:{mem/d0}:shadow");
  const namedKey = await redis.memory("USAGE", "umbra:{mem/d0}:shadow:battery");
  const namesKey = await redis.memory("USAGE", "umbra:{mem/d0}:shadow-names");
  console.log(
    `${devices} devices; per shadow — classic: Redis ${perShadow(r0, r1)} B, shard heap ${perShadow(h0, h1)} B; ` +
      `named: Redis ${perShadow(r1, r2)} B, shard heap ${perShadow(h1, h2)} B. ` +
      `MEMORY USAGE of device 0's keys: classic ${classicKey} B, named ${namedKey} B, names set ${namesKey} B`,
  );
} finally {
  client.close();
  await nc.close();
  await redis.quit();
  await tier.stop();
}

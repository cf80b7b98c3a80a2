import { spawnSync } from "node:child_process";
import mqtt, { type MqttClient } from "mqtt";
import { UMBRA_MAIN } from "./service.js";
import { withDeadline } from "./wait.js";

export interface RegisteredDevice {
  readonly productId: string;
  readonly deviceName: string;
  readonly key: string;
  readonly token: string;
}

/** A certificate `umbra device add --cert` wrote: its files and fingerprint. */
export interface IssuedCertificate {
  readonly certPath: string;
  readonly keyPath: string;
  readonly caPath: string;
  readonly fingerprint: string;
}

/** `umbra device add {pid} {dn} --json [extra]` with the real CLI; its JSON output. */
const deviceAdd = <T>(
  productId: string,
  deviceName: string,
  extra: readonly string[],
  env: Record<string, string>,
): T => {
  const run = spawnSync(
    process.execPath,
    [UMBRA_MAIN, "device", "add", productId, deviceName, ...extra, "--json"],
    { encoding: "utf8", env: { ...process.env, ...env }, timeout: 20_000 },
  );
  if (run.status !== 0)
    throw new Error(`umbra device add ${productId} ${deviceName} failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
};

/** Registers a device with the real CLI (`umbra device add … --json`). */
export const registerDevice = (
  redisUrl: string,
  productId: string,
  deviceName: string,
): RegisteredDevice => deviceAdd(productId, deviceName, [], { REDIS_URL: redisUrl });

/**
 * Registers a device and issues it a certificate signed by the development CA under
 * `dataDir` (`umbra device add … --cert`).
 */
export const registerCertifiedDevice = (
  redisUrl: string,
  dataDir: string,
  productId: string,
  deviceName: string,
): RegisteredDevice & { readonly certificate: IssuedCertificate } =>
  deviceAdd(productId, deviceName, ["--cert"], { REDIS_URL: redisUrl, UMBRA_DATA_DIR: dataDir });

export interface Received {
  readonly topic: string;
  readonly payload: Buffer;
}

/**
 * An mqtt.js device that records what it receives and lets a test wait for the next
 * message on a topic, in order.
 */
export class TestDevice {
  readonly client: MqttClient;
  readonly received: Received[] = [];
  /** Per topic suffix: how far `next` has read. */
  readonly #cursors = new Map<string, number>();
  #waiters: (() => void)[] = [];

  private constructor(client: MqttClient) {
    this.client = client;
    client.on("message", (topic, payload) => {
      this.received.push({ topic, payload });
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async connect(
    url: string,
    device: { productId: string; deviceName: string; token?: string },
    options: { protocolVersion?: 4 | 5; subscribe?: string[] } = {},
  ): Promise<TestDevice> {
    const client = await mqtt.connectAsync(url, {
      clientId: device.deviceName,
      username: device.productId,
      password: device.token ?? "",
      protocolVersion: options.protocolVersion ?? 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    const d = new TestDevice(client);
    for (const filter of options.subscribe ?? []) await client.subscribeAsync(filter);
    return d;
  }

  /** The next message (after those already taken) whose topic ends with `suffix`. */
  async next(suffix: string, timeoutMs = 10_000): Promise<{ topic: string; body: unknown }> {
    const find = (): Received | undefined => {
      let at = this.#cursors.get(suffix) ?? 0;
      try {
        while (at < this.received.length) {
          const m = this.received[at++] as Received;
          if (m.topic.endsWith(suffix)) return m;
        }
        return undefined;
      } finally {
        this.#cursors.set(suffix, at);
      }
    };
    const wait = async (): Promise<Received> => {
      for (;;) {
        const found = find();
        if (found !== undefined) return found;
        await new Promise<void>((wake) => this.#waiters.push(wake));
      }
    };
    const m = await withDeadline(wait(), timeoutMs, () => {
      const topics = this.received.map((r) => r.topic).join(", ");
      return `no message on …${suffix} within ${timeoutMs} ms (received: ${topics || "nothing"})`;
    });
    return { topic: m.topic, body: JSON.parse(m.payload.toString("utf8")) };
  }

  /** Topics received so far, in order. */
  topics(): string[] {
    return this.received.map((r) => r.topic);
  }

  /** Whether the edge's SUBACK grants `filter` (mqtt.js rejects on a failure code). */
  async granted(filter: string): Promise<boolean> {
    try {
      const [grant] = await this.client.subscribeAsync(filter);
      return grant !== undefined && grant.qos < 128;
    } catch (e) {
      if ((e as Error).name === "ErrorWithSubackPacket") return false;
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

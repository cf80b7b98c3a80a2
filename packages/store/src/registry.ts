import type { Redis } from "ioredis";
import { deviceRecordKey, productDevicesKey } from "./keys.js";

export interface DeviceRecord {
  /** Base64 device key: the secret OneNET tokens are signed with. */
  readonly key: string;
  /** ms */
  readonly createdAt: number;
}

/** The device registry: which devices exist and the keys they authenticate with. */
export class DeviceRegistry {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Registers a device; false (and nothing changed) if it already exists. */
  async add(productId: string, deviceName: string, key: string, now: number): Promise<boolean> {
    const deviceKey = `${productId}/${deviceName}`;
    const created = await this.#redis.hsetnx(deviceRecordKey(deviceKey), "key", key);
    if (created === 0) return false;
    await this.#redis.hset(deviceRecordKey(deviceKey), "createdAt", now);
    await this.#redis.sadd(productDevicesKey(productId), deviceName);
    return true;
  }

  async get(deviceKey: string): Promise<DeviceRecord | undefined> {
    const [key, createdAt] = await this.#redis.hmget(
      deviceRecordKey(deviceKey),
      "key",
      "createdAt",
    );
    if (key === null || key === undefined) return undefined;
    return { key, createdAt: Number(createdAt ?? 0) };
  }

  async remove(productId: string, deviceName: string): Promise<boolean> {
    const removed = await this.#redis.del(deviceRecordKey(`${productId}/${deviceName}`));
    await this.#redis.srem(productDevicesKey(productId), deviceName);
    return removed === 1;
  }

  async list(productId: string): Promise<string[]> {
    return (await this.#redis.smembers(productDevicesKey(productId))).sort();
  }
}

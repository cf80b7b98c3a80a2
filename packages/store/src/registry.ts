import type { Redis } from "ioredis";
import { deviceRecordKey, PRODUCTS_KEY, productDevicesKey, productRecordKey } from "./keys.js";

export interface DeviceRecord {
  /** Base64 device key: the secret OneNET tokens are signed with. */
  readonly key: string;
  /** ms */
  readonly createdAt: number;
}

export interface ProductRecord {
  readonly productId: string;
  /** ms */
  readonly createdAt: number;
}

/**
 * The device registry: which products and devices exist and the keys devices
 * authenticate with. Registering a device registers its product too.
 */
export class DeviceRegistry {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Registers a product; false (and nothing changed) if it already exists. */
  async addProduct(productId: string, now: number): Promise<boolean> {
    const created = await this.#redis.hsetnx(productRecordKey(productId), "createdAt", now);
    await this.#redis.sadd(PRODUCTS_KEY, productId);
    return created === 1;
  }

  async getProduct(productId: string): Promise<ProductRecord | undefined> {
    const createdAt = await this.#redis.hget(productRecordKey(productId), "createdAt");
    if (createdAt === null) return undefined;
    return { productId, createdAt: Number(createdAt) };
  }

  async listProducts(): Promise<string[]> {
    return (await this.#redis.smembers(PRODUCTS_KEY)).sort();
  }

  /** Removes a product that has no devices: `removed`, `missing`, or `has-devices`. */
  async removeProduct(productId: string): Promise<"removed" | "missing" | "has-devices"> {
    if ((await this.#redis.scard(productDevicesKey(productId))) > 0) return "has-devices";
    const removed = await this.#redis.del(productRecordKey(productId));
    await this.#redis.srem(PRODUCTS_KEY, productId);
    return removed === 1 ? "removed" : "missing";
  }

  /** Registers a device; false (and nothing changed) if it already exists. */
  async add(productId: string, deviceName: string, key: string, now: number): Promise<boolean> {
    const deviceKey = `${productId}/${deviceName}`;
    const created = await this.#redis.hsetnx(deviceRecordKey(deviceKey), "key", key);
    if (created === 0) return false;
    await this.#redis.hset(deviceRecordKey(deviceKey), "createdAt", now);
    await this.#redis.sadd(productDevicesKey(productId), deviceName);
    await this.addProduct(productId, now);
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

  /** Replaces a registered device's key; false if the device does not exist. */
  async setKey(deviceKey: string, key: string): Promise<boolean> {
    const record = deviceRecordKey(deviceKey);
    if ((await this.#redis.hexists(record, "key")) === 0) return false;
    await this.#redis.hset(record, "key", key);
    return true;
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

import { parseDeviceKey } from "@umbra/dialects";
import type { Redis } from "ioredis";
import {
  certificateOwnerKey,
  certificatesKey,
  deviceRecordKey,
  PRODUCTS_KEY,
  productDevicesKey,
  productRecordKey,
  revokedCertificatesKey,
  subDevicesKey,
} from "./keys.js";
import { RegistryRefusal, registrableNameProblem } from "./names.js";

/** Why a device key (`pid/dn`) does not name a registrable device, or `undefined`. */
const deviceKeyProblem = (deviceKey: string): string | undefined => {
  const device = parseDeviceKey(deviceKey);
  if (device === undefined) return `'${deviceKey}' is not a device key (pid/dn)`;
  return (
    registrableNameProblem("product id", device.productId) ??
    registrableNameProblem("device name", device.deviceName)
  );
};

export interface DeviceRecord {
  /** Base64 device key: the secret OneNET tokens are signed with. */
  readonly key: string;
  /** ms */
  readonly createdAt: number;
  /** The gateway a sub-device is registered under (`pid/dn`), seed 003. */
  readonly gateway?: string;
}

export type AttachOutcome = "attached" | "already" | "missing" | "other-gateway";

/** A device's own client certificate, registered by its SHA-256 fingerprint. */
export interface CertificateRecord {
  /** 64 lowercase hex digits. */
  readonly fingerprint: string;
  readonly subject: string;
  /** ms */
  readonly notAfter: number;
  /** ms */
  readonly addedAt: number;
}

export type AddCertificateOutcome = "added" | "already" | "missing" | "other-device" | "full";

/** Certificates one device may hold registered at once (rotation needs two). */
export const MAX_CERTIFICATES_PER_DEVICE = 16;
/**
 * Revoked fingerprints kept per device until their certificates expire; past it the ones
 * expiring first go (only CA-signed certificates need the list: a registered one is
 * refused once its registration is gone).
 */
export const MAX_REVOKED_CERTIFICATES_PER_DEVICE = 1_000;

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

  /**
   * Registers a product; false (and nothing changed) if it already exists. Throws a
   * `RegistryRefusal` for an id `registrableNameProblem` refuses.
   */
  async addProduct(productId: string, now: number): Promise<boolean> {
    const problem = registrableNameProblem("product id", productId);
    if (problem !== undefined) throw new RegistryRefusal(problem);
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

  /**
   * Registers a device; false (and nothing changed) if it already exists. Throws a
   * `RegistryRefusal` for a name `registrableNameProblem` refuses.
   */
  async add(productId: string, deviceName: string, key: string, now: number): Promise<boolean> {
    const deviceKey = `${productId}/${deviceName}`;
    const problem = deviceKeyProblem(deviceKey);
    if (problem !== undefined) throw new RegistryRefusal(problem);
    const created = await this.#redis.hsetnx(deviceRecordKey(deviceKey), "key", key);
    if (created === 0) return false;
    await this.#redis.hset(deviceRecordKey(deviceKey), "createdAt", now);
    await this.#redis.sadd(productDevicesKey(productId), deviceName);
    await this.addProduct(productId, now);
    return true;
  }

  async get(deviceKey: string): Promise<DeviceRecord | undefined> {
    const [key, createdAt, gateway] = await this.#redis.hmget(
      deviceRecordKey(deviceKey),
      "key",
      "createdAt",
      "gateway",
    );
    if (key === null || key === undefined) return undefined;
    const record = { key, createdAt: Number(createdAt ?? 0) };
    return gateway === null || gateway === undefined ? record : { ...record, gateway };
  }

  /** Replaces a registered device's key; false if the device does not exist. */
  async setKey(deviceKey: string, key: string): Promise<boolean> {
    const record = deviceRecordKey(deviceKey);
    if ((await this.#redis.hexists(record, "key")) === 0) return false;
    await this.#redis.hset(record, "key", key);
    return true;
  }

  /**
   * Removes a device. A sub-device leaves its gateway's list; a gateway's sub-devices
   * stay registered, under no gateway.
   */
  async remove(productId: string, deviceName: string): Promise<boolean> {
    const key = `${productId}/${deviceName}`;
    const gateway = await this.#redis.hget(deviceRecordKey(key), "gateway");
    if (gateway !== null) await this.#redis.srem(subDevicesKey(gateway), key);
    for (const sub of await this.#redis.smembers(subDevicesKey(key)))
      await this.#detachField(sub, key);
    await this.#redis.del(subDevicesKey(key));
    for (const fingerprint of await this.#redis.hkeys(certificatesKey(key)))
      await this.#releaseFingerprint(fingerprint, key);
    await this.#redis.del(certificatesKey(key), revokedCertificatesKey(key));
    const removed = await this.#redis.del(deviceRecordKey(key));
    await this.#redis.srem(productDevicesKey(productId), deviceName);
    return removed === 1;
  }

  /**
   * Registers `sub` under `gateway` (both registered devices, seed 003). A sub-device has
   * one gateway: `other-gateway` if it is under another one already, and nothing changes.
   * The sub-device's record is the truth; the gateway's set is its listing. Throws a
   * `RegistryRefusal` for a link no caller may ask for (a malformed key, a device as its
   * own sub-device); whether the caller may link these products is the caller's check.
   */
  async attach(gateway: string, sub: string): Promise<AttachOutcome> {
    const problem = deviceKeyProblem(gateway) ?? deviceKeyProblem(sub);
    if (problem !== undefined) throw new RegistryRefusal(problem);
    if (gateway === sub) throw new RegistryRefusal("a device cannot be its own sub-device");
    const record = deviceRecordKey(sub);
    // One key per call: the two records live in different Redis Cluster slots.
    if (
      (await this.#redis.exists(record)) === 0 ||
      (await this.#redis.exists(deviceRecordKey(gateway))) === 0
    )
      return "missing";
    const set = await this.#redis.hsetnx(record, "gateway", gateway);
    if (set === 0) {
      const current = await this.#redis.hget(record, "gateway");
      if (current !== gateway) return "other-gateway";
      // Repeated after a failure between the two writes: complete the listing.
      await this.#redis.sadd(subDevicesKey(gateway), sub);
      return "already";
    }
    // The device may have been removed meanwhile: then the field just written is alone.
    if ((await this.#redis.hexists(record, "key")) === 0) {
      await this.#redis.del(record);
      return "missing";
    }
    await this.#redis.sadd(subDevicesKey(gateway), sub);
    return "attached";
  }

  /** Takes `sub` off `gateway`; false if it was not under it. */
  async detach(gateway: string, sub: string): Promise<boolean> {
    const detached = await this.#detachField(sub, gateway);
    await this.#redis.srem(subDevicesKey(gateway), sub);
    return detached;
  }

  /** Removes the sub-device record's `gateway` field if it names `gateway`. */
  async #detachField(sub: string, gateway: string): Promise<boolean> {
    const record = deviceRecordKey(sub);
    if ((await this.#redis.hget(record, "gateway")) !== gateway) return false;
    await this.#redis.hdel(record, "gateway");
    return true;
  }

  /** Whether `sub` is registered under `gateway`. */
  async isSubDevice(gateway: string, sub: string): Promise<boolean> {
    return (await this.#redis.hget(deviceRecordKey(sub), "gateway")) === gateway;
  }

  /**
   * A gateway's sub-devices, as sorted device keys: what its session may act for. The
   * listing set is checked against each sub-device's record (the truth), so an entry left
   * by a half-done write, or written by anything but `attach`, grants nothing.
   */
  async subDevices(gateway: string): Promise<string[]> {
    const listed = await this.#redis.smembers(subDevicesKey(gateway));
    const owners = await Promise.all(
      listed.map((sub) =>
        deviceKeyProblem(sub) === undefined && sub !== gateway
          ? this.#redis.hget(deviceRecordKey(sub), "gateway")
          : null,
      ),
    );
    return listed.filter((_, i) => owners[i] === gateway).sort();
  }

  async list(productId: string): Promise<string[]> {
    return (await this.#redis.smembers(productDevicesKey(productId))).sort();
  }

  /**
   * Registers a device's client certificate. A fingerprint belongs to one device:
   * `other-device` if another one has it; `missing` if the device is not registered;
   * `full` at MAX_CERTIFICATES_PER_DEVICE. Registering clears an earlier revocation.
   */
  async addCertificate(
    deviceKey: string,
    certificate: CertificateRecord,
  ): Promise<AddCertificateOutcome> {
    const { fingerprint } = certificate;
    if ((await this.#redis.exists(deviceRecordKey(deviceKey))) === 0) return "missing";
    const listing = certificatesKey(deviceKey);
    if (
      (await this.#redis.hexists(listing, fingerprint)) === 0 &&
      (await this.#redis.hlen(listing)) >= MAX_CERTIFICATES_PER_DEVICE
    )
      return "full";
    // One key per call: the owner key and the device's keys live in different slots.
    const claimed = await this.#redis.set(certificateOwnerKey(fingerprint), deviceKey, "NX");
    if (claimed === null) {
      const owner = await this.#redis.get(certificateOwnerKey(fingerprint));
      if (owner !== deviceKey) return "other-device";
    }
    const { fingerprint: _, ...stored } = certificate;
    const added = await this.#redis.hsetnx(listing, fingerprint, JSON.stringify(stored));
    await this.#redis.zrem(revokedCertificatesKey(deviceKey), fingerprint);
    // The device may have been removed meanwhile: undo what is now orphaned.
    if ((await this.#redis.hexists(deviceRecordKey(deviceKey), "key")) === 0) {
      await this.#releaseFingerprint(fingerprint, deviceKey);
      await this.#redis.del(listing);
      return "missing";
    }
    return added === 1 ? "added" : "already";
  }

  /** A device's registered certificates, by fingerprint. */
  async certificates(deviceKey: string): Promise<CertificateRecord[]> {
    const all = await this.#redis.hgetall(certificatesKey(deviceKey));
    return Object.entries(all)
      .map(([fingerprint, json]) => {
        const stored = JSON.parse(json) as Omit<CertificateRecord, "fingerprint">;
        return { fingerprint, ...stored };
      })
      .sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));
  }

  /** The device key a certificate fingerprint is registered to. */
  async certificateOwner(fingerprint: string): Promise<string | undefined> {
    return (await this.#redis.get(certificateOwnerKey(fingerprint))) ?? undefined;
  }

  /**
   * Revokes a device's registered certificate: its registration goes, and the
   * fingerprint is remembered as revoked until the certificate expires (so a CA-signed
   * one is refused too). False if the device had no such certificate.
   */
  async revokeCertificate(deviceKey: string, fingerprint: string, now: number): Promise<boolean> {
    const listing = certificatesKey(deviceKey);
    const json = await this.#redis.hget(listing, fingerprint);
    if (json === null) return false;
    const { notAfter } = JSON.parse(json) as { notAfter: number };
    const revoked = revokedCertificatesKey(deviceKey);
    await this.#redis.zadd(revoked, notAfter, fingerprint);
    await this.#redis.zremrangebyscore(revoked, "-inf", now);
    await this.#redis.zremrangebyrank(revoked, 0, -(MAX_REVOKED_CERTIFICATES_PER_DEVICE + 1));
    await this.#redis.hdel(listing, fingerprint);
    await this.#releaseFingerprint(fingerprint, deviceKey);
    return true;
  }

  /** Whether `fingerprint` was revoked for the device (and has not expired since). */
  async isCertificateRevoked(deviceKey: string, fingerprint: string): Promise<boolean> {
    return (await this.#redis.zscore(revokedCertificatesKey(deviceKey), fingerprint)) !== null;
  }

  /** Deletes a fingerprint's owner key if it names `deviceKey`. */
  async #releaseFingerprint(fingerprint: string, deviceKey: string): Promise<void> {
    const owner = certificateOwnerKey(fingerprint);
    if ((await this.#redis.get(owner)) === deviceKey) await this.#redis.del(owner);
  }
}

/**
 * How an AWS IoT SDK's CONNECT authenticates (DIALECTS.md §1.5): the SDKs append
 * `?SDK=…&Platform=…` to the username. Over mutual TLS the username is that suffix
 * alone and the certificate decides; over plain TCP the username is the product id
 * before the suffix and the password the device token. `authenticateDevice` against
 * an in-memory registry (the e2e `tls.test.ts` runs both through a real edge).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newDeviceKey, signOneNetToken } from "@umbra/dialects";
import type { DeviceRegistry } from "@umbra/store";
import type { ClientCertificate } from "../src/backend.js";
import { authenticateDevice } from "../src/bus/authenticate.js";

const NOW = Date.UTC(2026, 5, 1);
const FP = "ef".repeat(32);
const KEY = newDeviceKey();
const V2_SUFFIX = "?SDK=IoTDeviceSDK/JS&Platform=Unix&Metadata=(CRTVersion=1.33.1)";
const V1_SUFFIX = "?SDK=JavaScript&Version=2.2.16";

/** Device p1/thing1 with its key, and a registered certificate of it. */
const registry = {
  get: async (key: string) => (key === "p1/thing1" ? { key: KEY, createdAt: 0 } : undefined),
  certificateOwner: async (fingerprint: string) => (fingerprint === FP ? "p1/thing1" : undefined),
  isCertificateRevoked: async () => false,
  subDevices: async () => [],
} as unknown as DeviceRegistry;

const certificate: ClientCertificate = {
  fingerprint: FP,
  commonName: "anything",
  organization: undefined,
  chainTrusted: false,
  notBefore: NOW - 1_000,
  notAfter: NOW + 1_000,
};

const token = signOneNetToken(
  { productId: "p1", deviceName: "thing1" },
  { key: KEY, expiresAt: NOW / 1000 + 3_600 },
);

describe("an AWS SDK's CONNECT", () => {
  it("over mutual TLS with a username that is only the SDK's suffix: the certificate is the device", async () => {
    for (const username of [V2_SUFFIX, V1_SUFFIX]) {
      const result = await authenticateDevice(
        registry,
        { clientId: "thing1", username, password: undefined, certificate },
        () => NOW,
      );
      assert.deepEqual(
        result.ok && result.device,
        { productId: "p1", deviceName: "thing1" },
        username,
      );
    }
    // The certificate is thing1's: another client id is refused.
    const other = await authenticateDevice(
      registry,
      { clientId: "thing2", username: V2_SUFFIX, password: undefined, certificate },
      () => NOW,
    );
    assert.equal(other.ok, false);
  });

  it("over plain TCP with username `{product}?SDK=…` and the device token as password", async () => {
    for (const suffix of [V2_SUFFIX, V1_SUFFIX]) {
      const result = await authenticateDevice(
        registry,
        { clientId: "thing1", username: `p1${suffix}`, password: Buffer.from(token) },
        () => NOW,
      );
      assert.deepEqual(result.ok && result.device, { productId: "p1", deviceName: "thing1" });
    }
    // The product is what comes before `?`: another product is another device.
    const elsewhere = await authenticateDevice(
      registry,
      { clientId: "thing1", username: `p2${V2_SUFFIX}`, password: Buffer.from(token) },
      () => NOW,
    );
    assert.equal(elsewhere.ok, false);
    // The suffix alone names no product: without a certificate there is no device.
    const noProduct = await authenticateDevice(
      registry,
      { clientId: "thing1", username: V2_SUFFIX, password: Buffer.from(token) },
      () => NOW,
    );
    assert.equal(noProduct.ok, false);
  });
});

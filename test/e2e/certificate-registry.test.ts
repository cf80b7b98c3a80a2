/**
 * The registry's device certificates on a real Redis: one device per fingerprint, the
 * bound on certificates per device and on remembered revocations, at and past each.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  type CertificateRecord,
  connectRedis,
  DeviceRegistry,
  MAX_CERTIFICATES_PER_DEVICE,
  MAX_REVOKED_CERTIFICATES_PER_DEVICE,
  revokedCertificatesKey,
} from "@umbra/store";
import { type Server, startRedis } from "../src/harness.js";

let redis: Server;
let client: Awaited<ReturnType<typeof connectRedis>>;
let registry: DeviceRegistry;

const NOW = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

const certificate = (notAfter = NOW + 30 * DAY): CertificateRecord => ({
  fingerprint: randomBytes(32).toString("hex"),
  subject: "CN=test",
  notAfter,
  addedAt: NOW,
});

before(async () => {
  redis = await startRedis();
  client = await connectRedis(redis.url, "certificate-registry-test");
  registry = new DeviceRegistry(client);
});

after(async () => {
  await client?.quit();
  await redis?.stop();
});

describe("device certificates in the registry", () => {
  it("a fingerprint belongs to one device; a device that is not registered gets none", async () => {
    await registry.add("p", "a", "k", NOW);
    await registry.add("p", "b", "k", NOW);
    const cert = certificate();
    assert.equal(await registry.addCertificate("p/a", cert), "added");
    assert.equal(await registry.addCertificate("p/a", cert), "already");
    assert.equal(await registry.addCertificate("p/b", cert), "other-device");
    assert.equal(await registry.addCertificate("p/nobody", certificate()), "missing");
    assert.equal(await registry.certificateOwner(cert.fingerprint), "p/a");
    // Removing the device frees its fingerprints.
    await registry.remove("p", "a");
    assert.equal(await registry.certificateOwner(cert.fingerprint), undefined);
    assert.equal(await registry.addCertificate("p/b", cert), "added");
  });

  it(`holds at most ${MAX_CERTIFICATES_PER_DEVICE} certificates per device: at the bound every one is kept, past it the next is refused`, async () => {
    await registry.add("p", "full", "k", NOW);
    const certs = Array.from({ length: MAX_CERTIFICATES_PER_DEVICE }, () => certificate());
    for (const cert of certs) assert.equal(await registry.addCertificate("p/full", cert), "added");
    assert.equal((await registry.certificates("p/full")).length, MAX_CERTIFICATES_PER_DEVICE);
    // Re-registering one it has is not a new one.
    assert.equal(await registry.addCertificate("p/full", certs[0] as CertificateRecord), "already");
    const extra = certificate();
    assert.equal(await registry.addCertificate("p/full", extra), "full");
    assert.equal(await registry.certificateOwner(extra.fingerprint), undefined);
    // Revoking one makes room.
    assert.ok(
      await registry.revokeCertificate("p/full", (certs[0] as CertificateRecord).fingerprint, NOW),
    );
    assert.equal(await registry.addCertificate("p/full", extra), "added");
  });

  it(`remembers at most ${MAX_REVOKED_CERTIFICATES_PER_DEVICE} revocations per device, dropping expired ones first`, async () => {
    await registry.add("p", "revoker", "k", NOW);
    const key = revokedCertificatesKey("p/revoker");
    // Revocations of certificates expiring later and later.
    const revoked: CertificateRecord[] = [];
    for (let i = 0; i < MAX_REVOKED_CERTIFICATES_PER_DEVICE; i++) {
      const cert = certificate(NOW + (i + 1) * 1_000);
      revoked.push(cert);
      await registry.addCertificate("p/revoker", cert);
      await registry.revokeCertificate("p/revoker", cert.fingerprint, NOW);
    }
    assert.equal(await client.zcard(key), MAX_REVOKED_CERTIFICATES_PER_DEVICE);
    const first = revoked[0] as CertificateRecord;
    assert.ok(await registry.isCertificateRevoked("p/revoker", first.fingerprint));
    // One past the bound: the one expiring first is forgotten.
    const past = certificate(NOW + 10 * DAY);
    await registry.addCertificate("p/revoker", past);
    await registry.revokeCertificate("p/revoker", past.fingerprint, NOW);
    assert.equal(await client.zcard(key), MAX_REVOKED_CERTIFICATES_PER_DEVICE);
    assert.equal(await registry.isCertificateRevoked("p/revoker", first.fingerprint), false);
    assert.ok(await registry.isCertificateRevoked("p/revoker", past.fingerprint));
    // Expired certificates need no revocation: a revocation after they expired drops them.
    const later = certificate(NOW + 20 * DAY);
    await registry.addCertificate("p/revoker", later);
    await registry.revokeCertificate("p/revoker", later.fingerprint, NOW + 11 * DAY);
    assert.equal(await client.zcard(key), 1);
    // Registering a certificate again lifts its revocation.
    await registry.addCertificate("p/revoker", later);
    assert.equal(await registry.isCertificateRevoked("p/revoker", later.fingerprint), false);
  });
});

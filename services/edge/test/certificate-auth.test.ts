import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClientCertificate } from "../src/backend.js";
import { authenticateByCertificate, type CertificateRegistry } from "../src/certificateAuth.js";

const NOW = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
const FP = "ab".repeat(32);

/** A registry of registered devices, certificate owners and revocations, in memory. */
const registry = (state: {
  devices?: string[];
  owners?: Record<string, string>;
  revoked?: string[];
}): CertificateRegistry => ({
  certificateOwner: async (fp) => state.owners?.[fp],
  get: async (key) =>
    state.devices?.includes(key) === true ? { key: "k", createdAt: 0 } : undefined,
  isCertificateRevoked: async (key, fp) => state.revoked?.includes(`${key} ${fp}`) === true,
});

const cert = (fields: Partial<ClientCertificate> = {}): ClientCertificate => ({
  fingerprint: FP,
  commonName: "d1",
  organization: "p1",
  chainTrusted: false,
  notBefore: NOW - DAY,
  notAfter: NOW + DAY,
  ...fields,
});

describe("authenticateByCertificate", () => {
  it("a registered certificate is its device: client id the device name, username (if any) the product", async () => {
    const r = registry({ owners: { [FP]: "p1/d1" } });
    for (const product of [undefined, "", "p1"])
      assert.deepEqual(await authenticateByCertificate(r, cert(), "d1", product, NOW), {
        ok: true,
        device: { productId: "p1", deviceName: "d1" },
      });
    // Whatever its subject says, the registration decides.
    assert.equal(
      (await authenticateByCertificate(r, cert({ commonName: "x" }), "d1", undefined, NOW))?.ok,
      true,
    );
    for (const [clientId, product] of [
      ["d2", undefined],
      ["d1", "p2"],
    ] as const) {
      const outcome = await authenticateByCertificate(r, cert(), clientId, product, NOW);
      assert.equal(outcome?.ok, false);
      assert.equal(outcome?.ok === false && outcome.refusal, "not-authorized");
    }
  });

  it("a registered certificate outside its validity dates is refused", async () => {
    const r = registry({ owners: { [FP]: "p1/d1" } });
    for (const dates of [{ notAfter: NOW - 1 }, { notBefore: NOW + 1 }]) {
      const outcome = await authenticateByCertificate(r, cert(dates), "d1", undefined, NOW);
      assert.equal(outcome?.ok, false);
      assert.match(outcome?.ok === false ? outcome.detail : "", /not valid now/);
    }
  });

  it("a CA-signed certificate is the registered device its subject names, unless revoked", async () => {
    const r = registry({ devices: ["p1/d1"], revoked: [`p1/d1 ${"cd".repeat(32)}`] });
    assert.deepEqual(
      await authenticateByCertificate(r, cert({ chainTrusted: true }), "d1", undefined, NOW),
      { ok: true, device: { productId: "p1", deviceName: "d1" } },
    );
    const revoked = await authenticateByCertificate(
      r,
      cert({ chainTrusted: true, fingerprint: "cd".repeat(32) }),
      "d1",
      undefined,
      NOW,
    );
    assert.match(revoked?.ok === false ? revoked.detail : "", /revoked/);
    const unregistered = await authenticateByCertificate(
      r,
      cert({ chainTrusted: true, commonName: "d9" }),
      "d9",
      undefined,
      NOW,
    );
    assert.match(unregistered?.ok === false ? unregistered.detail : "", /not registered/);
    const otherClient = await authenticateByCertificate(
      r,
      cert({ chainTrusted: true }),
      "d2",
      undefined,
      NOW,
    );
    assert.equal(otherClient?.ok, false);
  });

  it("settles nothing for an unregistered certificate no trusted CA signed, or one without CN and O", async () => {
    const r = registry({ devices: ["p1/d1"] });
    assert.equal(await authenticateByCertificate(r, cert(), "d1", "p1", NOW), undefined);
    assert.equal(
      await authenticateByCertificate(
        r,
        cert({ chainTrusted: true, organization: undefined }),
        "d1",
        "p1",
        NOW,
      ),
      undefined,
    );
  });
});

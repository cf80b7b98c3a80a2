import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { issueDeviceCertificate } from "../src/authority.js";
import {
  isFingerprint,
  MAX_CERTIFICATE_PEM_BYTES,
  readCertificatePem,
} from "../src/certificate.js";

let dir: string;
let certPem: string;
let keyPem: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "umbra-tls-"));
  ({ certPem, keyPem } = await issueDeviceCertificate(dir, { productId: "p", deviceName: "d" }, 1));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("readCertificatePem", () => {
  it("reads the SHA-256 fingerprint of the DER bytes, subject and validity", () => {
    const info = readCertificatePem(certPem);
    assert.ok(typeof info !== "string", String(info));
    const der = new X509Certificate(certPem).raw;
    assert.equal(info.fingerprint, createHash("sha256").update(der).digest("hex"));
    assert.ok(isFingerprint(info.fingerprint));
    assert.equal(info.subject, "CN=d, O=p");
    assert.equal(info.commonName, "d");
    assert.equal(info.organization, "p");
    assert.ok(info.notAfter > info.notBefore);
  });

  it("refuses text without a certificate, a private key, two certificates, junk and oversize input", () => {
    for (const [pem, reason] of [
      ["hello", /no PEM block/],
      [`${certPem}${keyPem}`, /private key/],
      [`${certPem}${certPem}`, /exactly one/],
      ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", /not a readable/],
      [certPem.padEnd(MAX_CERTIFICATE_PEM_BYTES + 1, "\n"), /longer than/],
    ] as const) {
      const result = readCertificatePem(pem);
      assert.equal(typeof result, "string");
      assert.match(result as string, reason);
    }
  });
});

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  ensureDevelopmentCertificates,
  issueDeviceCertificate,
  tlsPaths,
} from "../src/authority.js";

const dirs: string[] = [];
const dataDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-tls-"));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const DAY_MS = 86_400_000;

describe("development certificates", () => {
  it("creates a CA and a server certificate for localhost, 127.0.0.1, ::1 and the host name", async () => {
    const dir = dataDir();
    const made = await ensureDevelopmentCertificates(dir, { dnsNames: ["localhost", "edge-host"] });
    assert.deepEqual(made.created, { ca: true, server: true });
    const paths = tlsPaths(dir);
    const ca = new X509Certificate(readFileSync(paths.ca));
    const server = new X509Certificate(readFileSync(paths.serverCert));
    assert.equal(ca.ca, true);
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    assert.equal(server.checkHost("localhost"), "localhost");
    assert.equal(server.checkHost("edge-host"), "edge-host");
    assert.ok(server.checkIP("127.0.0.1") !== undefined);
    assert.ok(server.checkIP("::1") !== undefined);
    assert.equal(server.checkHost("example.com"), undefined);
    // Keys are the owner's alone.
    assert.equal(statSync(paths.caKey).mode & 0o777, 0o600);
    assert.equal(statSync(paths.serverKey).mode & 0o777, 0o600);
  });

  it("reuses both on the next start", async () => {
    const dir = dataDir();
    const first = await ensureDevelopmentCertificates(dir);
    const second = await ensureDevelopmentCertificates(dir);
    assert.deepEqual(second.created, { ca: false, server: false });
    assert.equal(second.caPem, first.caPem);
    assert.equal(second.certPem, first.certPem);
    assert.equal(second.keyPem, first.keyPem);
  });

  it("replaces the server certificate when it nears its end, keeping the CA", async () => {
    const dir = dataDir();
    const first = await ensureDevelopmentCertificates(dir);
    const later = await ensureDevelopmentCertificates(dir, {
      now: new Date(Date.now() + 360 * DAY_MS),
    });
    assert.deepEqual(later.created, { ca: false, server: true });
    assert.equal(later.caPem, first.caPem);
    assert.notEqual(later.certPem, first.certPem);
  });

  it("replaces the server certificate when the names it must cover change", async () => {
    const dir = dataDir();
    await ensureDevelopmentCertificates(dir, { dnsNames: ["localhost", "old-name"] });
    const renamed = await ensureDevelopmentCertificates(dir, {
      dnsNames: ["localhost", "new-name"],
    });
    assert.deepEqual(renamed.created, { ca: false, server: true });
    assert.equal(new X509Certificate(renamed.certPem).checkHost("new-name"), "new-name");
  });

  it("creates a new CA (and server certificate) when the CA's key is gone", async () => {
    const dir = dataDir();
    const first = await ensureDevelopmentCertificates(dir);
    rmSync(tlsPaths(dir).caKey);
    const again = await ensureDevelopmentCertificates(dir);
    assert.deepEqual(again.created, { ca: true, server: true });
    assert.notEqual(again.caPem, first.caPem);
  });
});

describe("device certificates", () => {
  it("are signed by the CA, name the device as CN and the product as O, for client authentication", async () => {
    const dir = dataDir();
    const dev = await ensureDevelopmentCertificates(dir);
    const issued = await issueDeviceCertificate(dir, { productId: "p1", deviceName: "d-1" }, 30);
    const cert = new X509Certificate(issued.certPem);
    const ca = new X509Certificate(dev.caPem);
    assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey));
    assert.equal(issued.info.commonName, "d-1");
    assert.equal(issued.info.organization, "p1");
    assert.match(cert.keyUsage?.join(",") ?? "", /1\.3\.6\.1\.5\.5\.7\.3\.2/);
    assert.equal(issued.caPath, tlsPaths(dir).ca);
    const days = (issued.info.notAfter.getTime() - Date.now()) / DAY_MS;
    assert.ok(days > 29 && days <= 30, `valid for ${days} days`);
  });
});

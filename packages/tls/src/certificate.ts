import { X509Certificate } from "node:crypto";

/** What Umbra reads from a certificate: identity, validity and its SHA-256 fingerprint. */
export interface CertificateInfo {
  /** Lowercase hex SHA-256 of the DER bytes, no separators (64 characters). */
  readonly fingerprint: string;
  /** `CN=…, O=…` as Node prints it, one attribute per line joined with `, `. */
  readonly subject: string;
  readonly issuer: string;
  /** Subject common name, if any: the device name in certificates Umbra issues. */
  readonly commonName: string | undefined;
  /** Subject organization, if any: the product id in certificates Umbra issues. */
  readonly organization: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Largest PEM accepted: a device certificate is 1–3 KiB; RSA 8192 with extensions stays under 8 KiB. */
export const MAX_CERTIFICATE_PEM_BYTES = 16_384;

/** Lowercase hex without colons, from Node's `AB:CD:…` form. */
export const normalizeFingerprint = (text: string): string =>
  text.replaceAll(":", "").toLowerCase();

/** Whether `text` is a SHA-256 fingerprint as Umbra spells it (64 lowercase hex digits). */
export const isFingerprint = (text: string): boolean => /^[0-9a-f]{64}$/.test(text);

/** `CN=a\nO=b` (Node's subject text) → one attribute's value. */
const attribute = (name: string, text: string): string | undefined => {
  for (const line of text.split("\n"))
    if (line.startsWith(`${name}=`)) return line.slice(name.length + 1);
  return undefined;
};

/** Reads a parsed certificate. */
export const describeCertificate = (cert: X509Certificate): CertificateInfo => ({
  fingerprint: normalizeFingerprint(cert.fingerprint256),
  subject: cert.subject.split("\n").join(", "),
  issuer: cert.issuer.split("\n").join(", "),
  commonName: attribute("CN", cert.subject),
  organization: attribute("O", cert.subject),
  notBefore: new Date(cert.validFrom),
  notAfter: new Date(cert.validTo),
});

/**
 * Reads exactly one PEM `CERTIFICATE` (a device's own). Returns the reason when the text
 * is not that: several certificates, a private key, anything unparsable.
 */
export const readCertificatePem = (pem: string): CertificateInfo | string => {
  if (Buffer.byteLength(pem) > MAX_CERTIFICATE_PEM_BYTES)
    return `certificatePem is longer than ${MAX_CERTIFICATE_PEM_BYTES} bytes`;
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return "certificatePem holds no PEM block (-----BEGIN CERTIFICATE-----)";
  if (blocks.some((b) => b[1]?.includes("PRIVATE KEY") === true))
    return "certificatePem holds a private key: send the certificate only, keep the key on the device";
  if (blocks.length > 1 || blocks[0]?.[1] !== "CERTIFICATE")
    return "certificatePem must hold exactly one CERTIFICATE block";
  try {
    return describeCertificate(new X509Certificate(blocks[0][0]));
  } catch (e) {
    return `certificatePem is not a readable X.509 certificate: ${e instanceof Error ? e.message : String(e)}`;
  }
};

/**
 * The take-over id the API publishes on a device's subject when one of its certificates
 * is revoked: edges close only the sessions that presented that certificate (any other
 * take-over id closes every session of the device but the one named).
 */
const REVOKED = "certificate-revoked:";

export const certificateRevokedSignal = (fingerprint: string): string => `${REVOKED}${fingerprint}`;

/** The fingerprint a revocation signal names; `undefined` for an ordinary take-over. */
export const revokedFingerprintOf = (takeoverId: string): string | undefined =>
  takeoverId.startsWith(REVOKED) ? takeoverId.slice(REVOKED.length) : undefined;

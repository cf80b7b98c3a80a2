/**
 * Umbra's own certificate authority for development and small installations: a CA, a
 * server certificate for the edge's TLS listener, and device certificates (mutual TLS),
 * all under `{dataDir}/tls/`. Created on first use, reused afterwards.
 *
 * Keys are ECDSA P-256: small certificates and the cheapest handshakes every SDK
 * supports. Certificates are built with @peculiar/x509 (over Node's WebCrypto) and read
 * back with Node's own `X509Certificate`. @peculiar/x509 needs a Reflect metadata
 * polyfill; it is loaded on the first certificate created, so a process that only
 * reads certificates never loads either.
 */
import {
  createPrivateKey,
  X509Certificate as NodeCertificate,
  randomBytes,
  webcrypto,
} from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { type CertificateInfo, describeCertificate } from "./certificate.js";

export interface TlsPaths {
  readonly dir: string;
  readonly ca: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

/** Where Umbra keeps its CA and server certificate: `{dataDir}/tls/`. */
export const tlsPaths = (dataDir: string): TlsPaths => {
  const dir = join(dataDir, "tls");
  return {
    dir,
    ca: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server-key.pem"),
  };
};

const DAY_MS = 86_400_000;
/** The CA lives ten years; it is what devices and SDKs are told to trust. */
const CA_DAYS = 3_650;
const SERVER_DAYS = 365;
/** A server certificate this close to its end is replaced at start rather than reused. */
const RENEW_BEFORE_MS = 7 * DAY_MS;

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

type X509Module = typeof import("@peculiar/x509");
let x509Module: Promise<X509Module> | undefined;

const x509 = (): Promise<X509Module> => {
  x509Module ??= (async () => {
    await import("reflect-metadata");
    const module = await import("@peculiar/x509");
    module.cryptoProvider.set(
      webcrypto as unknown as Parameters<typeof module.cryptoProvider.set>[0],
    );
    return module;
  })();
  return x509Module;
};

/** A positive random 128-bit serial (RFC 5280: unique per CA, at most 20 bytes). */
const serialNumber = (): string => {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString("hex");
};

const toPem = (label: string, der: ArrayBuffer): string => {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
};

const fromPem = (pem: string): Uint8Array => {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
};

/** Writes a file whole or not at all (a crash mid-write leaves the old one). */
const writeAtomically = (path: string, text: string, mode: number): void => {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, path);
};

const readIfPresent = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
};

const newKeyPair = async (): Promise<webcrypto.CryptoKeyPair> =>
  (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;

const exportKey = async (key: webcrypto.CryptoKey): Promise<string> =>
  toPem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", key));

export interface Authority {
  readonly caPem: string;
  readonly caKeyPem: string;
  readonly paths: TlsPaths;
  /** Whether this call created the CA (and so any older server certificate is void). */
  readonly created: boolean;
}

/** A CA in `paths` that is readable, matches its key and is still valid at `now`. */
const usableAuthority = (paths: TlsPaths, now: Date): Authority | undefined => {
  const caPem = readIfPresent(paths.ca);
  const caKeyPem = readIfPresent(paths.caKey);
  if (caPem === undefined || caKeyPem === undefined) return undefined;
  try {
    const ca = new NodeCertificate(caPem);
    if (!ca.ca || !ca.checkPrivateKey(createPrivateKey(caKeyPem))) return undefined;
    if (new Date(ca.validTo).getTime() <= now.getTime()) return undefined;
  } catch {
    return undefined;
  }
  return { caPem, caKeyPem, paths, created: false };
};

/**
 * The CA of `{dataDir}/tls/` (`ca.pem`, `ca-key.pem`), created when missing, unreadable
 * or expired. The key file is readable by its owner only.
 */
export const ensureAuthority = async (dataDir: string, now = new Date()): Promise<Authority> => {
  const paths = tlsPaths(dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const existing = usableAuthority(paths, now);
  if (existing !== undefined) return existing;
  const X = await x509();
  const keys = await newKeyPair();
  const ca = await X.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [`Umbra development CA (${hostname()})`] }, { O: ["Umbra"] }],
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new X.BasicConstraintsExtension(true, 0, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.keyCertSign | X.KeyUsageFlags.cRLSign, true),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const caPem = ca.toString("pem");
  const caKeyPem = await exportKey(keys.privateKey);
  // Key first: a CA file without its key would be taken as unusable and replaced.
  writeAtomically(paths.caKey, caKeyPem, 0o600);
  writeAtomically(paths.ca, `${caPem}\n`, 0o644);
  return { caPem: `${caPem}\n`, caKeyPem, paths, created: true };
};

interface Issue {
  readonly subject: Record<string, string[]>[];
  readonly days: number;
  readonly usage: "server" | "client";
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

/** A new key and a certificate for it signed by `authority`. */
const issue = async (
  authority: Authority,
  what: Issue,
  now: Date,
): Promise<{ certPem: string; keyPem: string }> => {
  const X = await x509();
  const caCert = new X.X509Certificate(authority.caPem);
  const caKey = await webcrypto.subtle.importKey("pkcs8", fromPem(authority.caKeyPem), EC, false, [
    "sign",
  ]);
  const keys = await newKeyPair();
  const names = [
    ...(what.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(what.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await X.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: what.subject,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + what.days * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC,
    extensions: [
      new X.BasicConstraintsExtension(false, undefined, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.digitalSignature, true),
      new X.ExtendedKeyUsageExtension(
        [what.usage === "server" ? X.ExtendedKeyUsage.serverAuth : X.ExtendedKeyUsage.clientAuth],
        false,
      ),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await X.AuthorityKeyIdentifierExtension.create(caCert),
      ...(names.length > 0 ? [new X.SubjectAlternativeNameExtension(names, false)] : []),
    ],
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await exportKey(keys.privateKey) };
};

/** The names the development server certificate is valid for. */
export const defaultServerNames = (): { dnsNames: string[]; ipAddresses: string[] } => {
  const host = hostname();
  const dnsNames = ["localhost"];
  if (host !== "" && host !== "localhost") dnsNames.push(host);
  return { dnsNames, ipAddresses: ["127.0.0.1", "::1"] };
};

/** Whether `certPem` + `keyPem` is a server certificate of `authority` Umbra can reuse at `now`. */
const reusableServer = (
  authority: Authority,
  certPem: string,
  keyPem: string,
  names: { dnsNames: readonly string[]; ipAddresses: readonly string[] },
  now: Date,
): boolean => {
  try {
    const ca = new NodeCertificate(authority.caPem);
    const cert = new NodeCertificate(certPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return false;
    if (new Date(cert.validTo).getTime() - RENEW_BEFORE_MS <= now.getTime()) return false;
    return (
      names.dnsNames.every((n) => cert.checkHost(n, { wildcards: false }) === n) &&
      names.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined)
    );
  } catch {
    return false;
  }
};

export interface DevelopmentCertificates {
  /** PEM of the CA clients must trust, and of the server certificate and its key. */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly paths: TlsPaths;
  /** What this call created (false: reused from an earlier start). */
  readonly created: { readonly ca: boolean; readonly server: boolean };
}

/**
 * The development CA and a server certificate for `localhost`, `127.0.0.1`, `::1` and
 * the host name, under `{dataDir}/tls/`. Reused when present; the server certificate
 * is replaced when it nears its end, names other hosts, or the CA changed.
 */
export const ensureDevelopmentCertificates = async (
  dataDir: string,
  options: { readonly now?: Date; readonly dnsNames?: readonly string[] } = {},
): Promise<DevelopmentCertificates> => {
  const now = options.now ?? new Date();
  const authority = await ensureAuthority(dataDir, now);
  const defaults = defaultServerNames();
  const names = {
    dnsNames: options.dnsNames ?? defaults.dnsNames,
    ipAddresses: defaults.ipAddresses,
  };
  const { paths } = authority;
  const certPem = readIfPresent(paths.serverCert);
  const keyPem = readIfPresent(paths.serverKey);
  if (
    certPem !== undefined &&
    keyPem !== undefined &&
    reusableServer(authority, certPem, keyPem, names, now)
  )
    return {
      caPem: authority.caPem,
      certPem,
      keyPem,
      paths,
      created: { ca: authority.created, server: false },
    };
  const fresh = await issue(
    authority,
    {
      subject: [{ CN: [names.dnsNames[0] ?? "localhost"] }, { O: ["Umbra"] }],
      days: SERVER_DAYS,
      usage: "server",
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
    },
    now,
  );
  writeAtomically(paths.serverKey, fresh.keyPem, 0o600);
  writeAtomically(paths.serverCert, fresh.certPem, 0o644);
  return {
    caPem: authority.caPem,
    ...fresh,
    paths,
    created: { ca: authority.created, server: true },
  };
};

export interface DeviceCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly info: CertificateInfo;
  readonly caPath: string;
}

/**
 * A client certificate for one device, signed by the CA of `{dataDir}/tls/` (created if
 * missing): subject `CN={device name}, O={product id}`, extended key usage clientAuth.
 * The edge takes the device's identity from that subject.
 */
export const issueDeviceCertificate = async (
  dataDir: string,
  device: { readonly productId: string; readonly deviceName: string },
  days: number,
  now = new Date(),
): Promise<DeviceCertificate> => {
  const authority = await ensureAuthority(dataDir, now);
  const { certPem, keyPem } = await issue(
    authority,
    { subject: [{ CN: [device.deviceName] }, { O: [device.productId] }], days, usage: "client" },
    now,
  );
  return {
    certPem,
    keyPem,
    info: describeCertificate(new NodeCertificate(certPem)),
    caPath: authority.paths.ca,
  };
};

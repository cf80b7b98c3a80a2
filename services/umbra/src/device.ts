import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  deviceKey,
  nameProblem,
  newDeviceKey,
  signOneNetToken,
  type TokenMethod,
} from "@umbra/dialects";
import { messageOf } from "@umbra/runtime";
import { DeviceRegistry, registrableNameProblem } from "@umbra/store";
import { issueDeviceCertificate } from "@umbra/tls";
import { withCliRedis } from "./cli-redis.js";

const usage = `Usage: umbra device <add|token|cert|remove|list> ...

  umbra device add <product-id> <device-name> [--days N] [--method sha256|sha1|md5] [--cert [--out DIR]] [--json]
      register a device: prints its key and a ready OneNET token; with --cert also a
      client certificate signed by Umbra's CA (CN=device name, O=product id)
  umbra device token <product-id> <device-name> [--days N] [--method ...] [--json]
      a fresh token for a registered device
  umbra device cert <product-id> <device-name> [--days N] [--out DIR] [--json]
      a new client certificate for a registered device (the older ones stay valid)
  umbra device remove <product-id> <device-name>
  umbra device list <product-id>

Redis is REDIS_URL (default redis://127.0.0.1:6379). Certificates are signed by the CA in
$UMBRA_DATA_DIR/tls (default .umbra/tls, created if missing, the one \`npm start\` uses) and
written, with their key, to DIR (default $UMBRA_DATA_DIR/devices/<product-id>/<device-name>).
MQTT_PORT (default 1883) and MQTTS_PORT (default 8883) only shape the example commands printed.`;

const fail = (message: string): number => {
  console.error(`umbra device: ${message}`);
  return 1;
};

interface IssuedFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly caPath: string;
  readonly fingerprint: string;
  readonly notAfter: Date;
}

/**
 * Issues a device certificate signed by Umbra's CA, registers its fingerprint (so the API
 * lists it and can revoke it) and writes it with its key (mode 0600) to `out`.
 */
const issueCertificate = async (
  registry: DeviceRegistry,
  productId: string,
  deviceName: string,
  days: number,
  out: string | undefined,
): Promise<IssuedFiles> => {
  const dataDir = process.env.UMBRA_DATA_DIR ?? ".umbra";
  const issued = await issueDeviceCertificate(dataDir, { productId, deviceName }, days);
  const outcome = await registry.addCertificate(
    deviceKey({ productId, deviceName: deviceName as string }),
    {
      fingerprint: issued.info.fingerprint,
      subject: issued.info.subject,
      notAfter: issued.info.notAfter.getTime(),
      addedAt: Date.now(),
    },
  );
  if (outcome !== "added" && outcome !== "already")
    throw new Error(`the certificate could not be registered: ${outcome}`);
  const dir = resolve(out ?? join(dataDir, "devices", productId, deviceName));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  writeFileSync(keyPath, issued.keyPem, { mode: 0o600 });
  writeFileSync(certPath, issued.certPem, { mode: 0o644 });
  return {
    certPath,
    keyPath,
    caPath: resolve(issued.caPath),
    fingerprint: issued.info.fingerprint,
    notAfter: issued.info.notAfter,
  };
};

const certificateJson = (cert: IssuedFiles) => ({
  certPath: cert.certPath,
  keyPath: cert.keyPath,
  caPath: cert.caPath,
  fingerprint: cert.fingerprint,
  notAfter: cert.notAfter.toISOString(),
});

const certificateText = (productId: string, deviceName: string, cert: IssuedFiles): string => {
  const port = process.env.MQTTS_PORT ?? "8883";
  const base = `$sys/${productId}/${deviceName}/image`;
  return `certificate  ${cert.certPath}
private key  ${cert.keyPath}
CA           ${cert.caPath}
fingerprint  ${cert.fingerprint}
valid until  ${cert.notAfter.toISOString()}

Connect it over TLS with the certificate, no password (client id = device name):
  mosquitto_rr -h localhost -p ${port} --cafile '${cert.caPath}' --cert '${cert.certPath}' --key '${cert.keyPath}' \\
    -i '${deviceName}' -t '${base}/update' -e '${base}/update/accepted' -m '{"state":{"reported":{"temperature":21.5}}}'`;
};

const describeCertificate = (
  productId: string,
  deviceName: string,
  cert: IssuedFiles,
  json: boolean,
): void => {
  if (json) console.log(JSON.stringify({ productId, deviceName, ...certificateJson(cert) }));
  else
    console.log(
      `device       ${productId}/${deviceName}\n${certificateText(productId, deviceName, cert)}`,
    );
};

const describe = (
  productId: string,
  deviceName: string,
  key: string,
  days: number,
  method: TokenMethod,
  json: boolean,
  cert?: IssuedFiles,
): void => {
  const device = { productId, deviceName };
  const expiresAt = Math.floor(Date.now() / 1000) + days * 86_400;
  const token = signOneNetToken(device, { key, expiresAt, method });
  if (json) {
    console.log(
      JSON.stringify({
        productId,
        deviceName,
        key,
        token,
        expiresAt,
        ...(cert === undefined ? {} : { certificate: certificateJson(cert) }),
      }),
    );
    return;
  }
  const port = process.env.MQTT_PORT ?? "1883";
  const base = `$sys/${productId}/${deviceName}/image`;
  console.log(`device   ${deviceKey(device)}
key      ${key}
token    ${token}
expires  ${new Date(expiresAt * 1000).toISOString()}

Connect it (username = product id, client id = device name, password = token):
  mosquitto_rr -h 127.0.0.1 -p ${port} -i '${deviceName}' -u '${productId}' -P '${token}' \\
    -t '${base}/update' -e '${base}/update/accepted' -m '{"state":{"reported":{"temperature":21.5}}}'
Watch what the cloud asks of it (deltas):
  mosquitto_sub -h 127.0.0.1 -p ${port} -i '${deviceName}' -u '${productId}' -P '${token}' -t '${base}/update/delta'
(The client id is the device name and a device has one session: a new connection takes the older one over.)`);
  if (cert !== undefined) console.log(`\n${certificateText(productId, deviceName, cert)}`);
};

export const deviceCommand = async (argv: readonly string[]): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        days: { type: "string", default: "365" },
        method: { type: "string", default: "sha256" },
        json: { type: "boolean", default: false },
        cert: { type: "boolean", default: false },
        out: { type: "string" },
      },
    });
  } catch (e) {
    console.error(`umbra device: ${messageOf(e)}\n\n${usage}`);
    return 2;
  }
  const [action, productId, deviceName, ...extra] = parsed.positionals;
  const days = Number(parsed.values.days);
  const method = parsed.values.method as string;
  const json = parsed.values.json === true;
  const out = parsed.values.out as string | undefined;
  if (action === undefined || action === "help") {
    console.log(usage);
    return action === undefined ? 2 : 0;
  }
  const withCert = parsed.values.cert === true || action === "cert";
  if (!["add", "token", "cert", "remove", "list"].includes(action)) {
    console.error(`umbra device: unknown action '${action}'\n\n${usage}`);
    return 2;
  }
  if (
    productId === undefined ||
    (action !== "list" && deviceName === undefined) ||
    extra.length > 0
  ) {
    console.error(`umbra device ${action}: wrong arguments\n\n${usage}`);
    return 2;
  }
  // A new device's name must also be addressable over the API; an older one that is not
  // can still be read and removed here.
  const check = action === "add" ? registrableNameProblem : nameProblem;
  const problem =
    check("product id", productId) ??
    (deviceName === undefined ? undefined : check("device name", deviceName));
  if (problem !== undefined) return fail(problem);
  if (!Number.isFinite(days) || days <= 0 || days > 36_500)
    return fail("--days must be a number of days between 1 and 36500");
  if (method !== "sha256" && method !== "sha1" && method !== "md5")
    return fail("--method must be sha256, sha1 or md5");

  return withCliRedis(fail, async (redis) => {
    const registry = new DeviceRegistry(redis);
    switch (action) {
      case "add": {
        const key = newDeviceKey();
        if (!(await registry.add(productId, deviceName as string, key, Date.now())))
          return fail(
            `${productId}/${deviceName} is already registered (umbra device token ${productId} ${deviceName} prints a token)`,
          );
        if (!withCert) {
          describe(productId, deviceName as string, key, days, method, json);
          return 0;
        }
        const cert = await issueCertificate(registry, productId, deviceName as string, days, out);
        describe(productId, deviceName as string, key, days, method, json, cert);
        return 0;
      }
      case "cert": {
        if (
          (await registry.get(deviceKey({ productId, deviceName: deviceName as string }))) ===
          undefined
        )
          return fail(`${productId}/${deviceName} is not registered`);
        const cert = await issueCertificate(registry, productId, deviceName as string, days, out);
        describeCertificate(productId, deviceName as string, cert, json);
        return 0;
      }
      case "token": {
        const record = await registry.get(
          deviceKey({ productId, deviceName: deviceName as string }),
        );
        if (record === undefined) return fail(`${productId}/${deviceName} is not registered`);
        describe(productId, deviceName as string, record.key, days, method, json);
        return 0;
      }
      case "remove":
        if (!(await registry.remove(productId, deviceName as string)))
          return fail(`${productId}/${deviceName} is not registered`);
        console.log(`removed ${productId}/${deviceName}`);
        return 0;
      default: {
        const names = await registry.list(productId);
        console.log(json ? JSON.stringify(names) : names.join("\n"));
        return 0;
      }
    }
  });
};

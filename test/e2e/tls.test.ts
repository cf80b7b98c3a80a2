/**
 * MQTT over TLS end to end: `umbra all` with its TLS listener on a free port and the
 * development certificates it creates under a data directory of the test's own; real
 * NATS and Redis; mqtt.js devices over TLS (the CA trusted through the `ca` option);
 * client certificates registered through the API, issued by `umbra device add --cert`,
 * revoked; raw TLS clients for ALPN and a handshake that never completes.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { ensureDevelopmentCertificates, issueDeviceCertificate } from "@umbra/tls";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import {
  ALL_IN_ONE_ADMIN_KEY,
  type AllInOne,
  pollUntil,
  type RegisteredDevice,
  registerCertifiedDevice,
  registerDevice,
  type Server,
  type ServiceProcess,
  scrapeSample,
  startAllInOne,
  startService,
  withDeadline,
} from "../src/harness.js";

const ADMIN = ALL_IN_ONE_ADMIN_KEY;
const PID = "tp";

let cluster: AllInOne;
let nats: Server;
let redis: Server;
let umbra: ServiceProcess;
let dataDir: string;
let foreignDir: string;
let ca: string;
let tlsPort: number;
let mqttUrl: string;
let http: AllInOne["http"];
let metricsUrl: string;

const image = (dn: string, suffix: string) => `$sys/${PID}/${dn}/image/${suffix}`;
const certificates = (dn: string) => `/v1/products/${PID}/devices/${dn}/certificates`;

/** An mqtt.js client over TLS to the edge, trusting the development CA. */
const connectTls = (options: IClientOptions): Promise<MqttClient> =>
  mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
    ca,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...options,
  });

/** Publishes an image update and waits for its `update/accepted`. */
const updateAccepted = async (client: MqttClient, dn: string): Promise<{ version: number }> => {
  await client.subscribeAsync(image(dn, "update/accepted"));
  const answer = new Promise<{ version: number }>((resolve) =>
    client.on("message", (topic, payload) => {
      if (topic === image(dn, "update/accepted")) resolve(JSON.parse(payload.toString()));
    }),
  );
  await client.publishAsync(
    image(dn, "update"),
    JSON.stringify({ state: { reported: { temperature: 21.5 } } }),
    { qos: 1 },
  );
  return withDeadline(answer, 10_000, () => `no update/accepted for ${dn}`);
};

/** The CONNACK return code a refused connection got (mqtt.js rejects with it). */
const refusal = async (connecting: Promise<MqttClient>): Promise<number | undefined> => {
  try {
    const client = await connecting;
    await client.endAsync();
    return 0;
  } catch (e) {
    return (e as { code?: number }).code;
  }
};

const closed = (client: MqttClient): Promise<void> =>
  new Promise((resolve) => {
    if (client.disconnected || !client.connected) resolve();
    client.once("close", () => resolve());
  });

const metric = (name: string): Promise<number> => scrapeSample(metricsUrl, name);

before(async () => {
  cluster = await startAllInOne({ MQTT_TLS_HANDSHAKE_TIMEOUT_MS: "500" });
  ({ nats, redis, umbra, dataDir, ca, tlsPort, mqttUrl, http, metricsUrl } = cluster);
  foreignDir = await mkdtemp(join(tmpdir(), "umbra-tls-foreign-"));
  const made = await http("POST", "/v1/products", { key: ADMIN, body: { id: PID } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
});

after(async () => {
  await cluster?.stop();
  if (foreignDir !== undefined) await rm(foreignDir, { recursive: true, force: true });
});

describe("MQTT over TLS", () => {
  it("the ready line names both listeners and the development CA, created under UMBRA_DATA_DIR/tls", () => {
    const line = umbra.ready.umbra ?? {};
    assert.equal(line.mqtts, `mqtts://127.0.0.1:${tlsPort}`);
    assert.equal(line.mqtt, mqttUrl);
    assert.equal(line.caPath, join(dataDir, "tls", "ca.pem"));
    for (const file of ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"])
      assert.ok(statSync(join(dataDir, "tls", file)).isFile(), file);
  });

  it("a OneNET device with its token over TLS gets its image update answered", async () => {
    const d = registerDevice(redis.url, PID, "token-dev");
    const client = await connectTls({
      clientId: d.deviceName,
      username: d.productId,
      password: d.token,
    });
    try {
      assert.equal((await updateAccepted(client, d.deviceName)).version, 1);
    } finally {
      await client.endAsync();
    }
  });

  it("a username's part after '?' is metadata: an AWS SDK's suffix does not stop a token device", async () => {
    const d = registerDevice(redis.url, PID, "suffix-dev");
    const client = await mqtt.connectAsync(mqttUrl, {
      clientId: d.deviceName,
      username: `${d.productId}?SDK=IoTDeviceSDK/JS&Platform=Unix&Metadata=(CRTVersion=1.33.1)`,
      password: d.token,
      reconnectPeriod: 0,
    });
    await client.endAsync();
  });

  it("the API registers a device's own certificate: it connects without a password; listed with fingerprint, subject, notAfter", async () => {
    registerDevice(redis.url, PID, "cert-dev");
    // Self-signed by a CA the edge does not know: only the registration makes it count.
    const own = await issueDeviceCertificate(foreignDir, { productId: "x", deviceName: "y" }, 10);
    const added = await http("POST", certificates("cert-dev"), {
      key: ADMIN,
      body: { certificatePem: own.certPem },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal((added.body as { fingerprint: string }).fingerprint, own.info.fingerprint);
    const again = await http("POST", certificates("cert-dev"), {
      key: ADMIN,
      body: { certificatePem: own.certPem },
    });
    assert.equal(again.status, 200);
    const listed = await http("GET", certificates("cert-dev"), { key: ADMIN });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (listed.body as { certificates: unknown[] }).certificates.map((c) => {
        const { fingerprint, subject, notAfter } = c as Record<string, string>;
        return { fingerprint, subject, notAfter };
      }),
      [
        {
          fingerprint: own.info.fingerprint,
          subject: "CN=y, O=x",
          notAfter: own.info.notAfter.toISOString(),
        },
      ],
    );
    // No username, no password; a username with metadata only is fine too.
    for (const username of [undefined, "?SDK=IoTDeviceSDK/JS", `${PID}?SDK=JavaScript`]) {
      const client = await connectTls({
        clientId: "cert-dev",
        cert: own.certPem,
        key: own.keyPem,
        ...(username === undefined ? {} : { username }),
      });
      try {
        assert.ok((await updateAccepted(client, "cert-dev")).version >= 1);
      } finally {
        await client.endAsync();
      }
    }
    // The certificate is the device's: another client id, or another product, is refused.
    assert.equal(
      await refusal(connectTls({ clientId: "other", cert: own.certPem, key: own.keyPem })),
      5,
    );
    assert.equal(
      await refusal(
        connectTls({ clientId: "cert-dev", username: "p9", cert: own.certPem, key: own.keyPem }),
      ),
      5,
    );
  });

  it("registering refuses what is not one certificate (400), an unknown device (404), another device's certificate (409)", async () => {
    registerDevice(redis.url, PID, "cert-a");
    registerDevice(redis.url, PID, "cert-b");
    const own = await issueDeviceCertificate(foreignDir, { productId: "x", deviceName: "a" }, 10);
    for (const certificatePem of ["junk", `${own.certPem}${own.keyPem}`]) {
      const bad = await http("POST", certificates("cert-a"), {
        key: ADMIN,
        body: { certificatePem },
      });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.equal((bad.body as { type: string }).type, "urn:umbra:problem:bad-request");
    }
    const unknown = await http("POST", certificates("nobody"), {
      key: ADMIN,
      body: { certificatePem: own.certPem },
    });
    assert.equal(unknown.status, 404);
    const first = await http("POST", certificates("cert-a"), {
      key: ADMIN,
      body: { certificatePem: own.certPem },
    });
    assert.equal(first.status, 201);
    const taken = await http("POST", certificates("cert-b"), {
      key: ADMIN,
      body: { certificatePem: own.certPem },
    });
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    const notThere = await http("DELETE", `${certificates("cert-b")}/${own.info.fingerprint}`, {
      key: ADMIN,
    });
    assert.equal(notThere.status, 404);
  });

  it("an unknown self-signed certificate without a password is refused: not authorized", async () => {
    registerDevice(redis.url, PID, "stranger");
    const own = await issueDeviceCertificate(foreignDir, { productId: PID, deviceName: "s" }, 10);
    assert.equal(
      await refusal(
        connectTls({ clientId: "stranger", username: PID, cert: own.certPem, key: own.keyPem }),
      ),
      5,
    );
  });

  it("DELETE of a certificate closes the session that presented it (MQTT 5: 0x87), a reconnect with it is refused, the device's token still works", async () => {
    const d: RegisteredDevice = registerDevice(redis.url, PID, "revoked-dev");
    const own = await issueDeviceCertificate(foreignDir, { productId: "x", deviceName: "r" }, 10);
    const added = await http("POST", certificates(d.deviceName), {
      key: ADMIN,
      body: { certificatePem: own.certPem },
    });
    assert.equal(added.status, 201);
    const byCert = await connectTls({
      clientId: d.deviceName,
      cert: own.certPem,
      key: own.keyPem,
      protocolVersion: 5,
    });
    const disconnect = new Promise<number | undefined>((resolve) =>
      byCert.once("disconnect", (packet) => resolve(packet.reasonCode)),
    );
    const gone = closed(byCert);
    const revoked = await http("DELETE", `${certificates(d.deviceName)}/${own.info.fingerprint}`, {
      key: ADMIN,
    });
    assert.equal(revoked.status, 204, JSON.stringify(revoked.body));
    await withDeadline(gone, 10_000, () => "the session with the revoked certificate stayed open");
    assert.equal(await disconnect, 0x87);
    assert.equal(
      await refusal(connectTls({ clientId: d.deviceName, cert: own.certPem, key: own.keyPem })),
      5,
    );
    // The same certificate with the device's token: the token decides.
    const byToken = await connectTls({
      clientId: d.deviceName,
      username: PID,
      password: d.token,
    });
    await byToken.endAsync();
    const listed = await http("GET", certificates(d.deviceName), { key: ADMIN });
    assert.deepEqual(listed.body, { certificates: [] });
  });

  it("`umbra device add --cert` issues a CA-signed certificate that connects without a password", async () => {
    const out = registerCertifiedDevice(redis.url, dataDir, PID, "ca-dev");
    assert.equal(out.certificate.caPath, join(dataDir, "tls", "ca.pem"));
    assert.equal(statSync(out.certificate.keyPath).mode & 0o777, 0o600);
    const cert = readFileSync(out.certificate.certPath, "utf8");
    const key = readFileSync(out.certificate.keyPath, "utf8");
    const client = await connectTls({ clientId: "ca-dev", cert, key });
    try {
      assert.equal((await updateAccepted(client, "ca-dev")).version, 1);
    } finally {
      await client.endAsync();
    }
    // Its subject names the device: it is not another device's certificate.
    assert.equal(await refusal(connectTls({ clientId: "token-dev", cert, key })), 5);
    // Registered by fingerprint too, so it can be revoked like any other.
    const revoked = await http(
      "DELETE",
      `${certificates("ca-dev")}/${out.certificate.fingerprint}`,
      {
        key: ADMIN,
      },
    );
    assert.equal(revoked.status, 204);
    assert.equal(await refusal(connectTls({ clientId: "ca-dev", cert, key })), 5);
  });

  it("a client offering only other ALPN ids is refused in the handshake; x-amzn-mqtt-ca, mqtt and none are accepted", async () => {
    const handshake = (ALPNProtocols: string[] | undefined) =>
      new Promise<string | false | Error>((resolve) => {
        const socket = tlsConnect({
          host: "127.0.0.1",
          port: tlsPort,
          ca,
          ...(ALPNProtocols === undefined ? {} : { ALPNProtocols }),
        });
        socket.once("secureConnect", () => {
          resolve(socket.alpnProtocol ?? false);
          socket.destroy();
        });
        socket.once("error", (e) => resolve(e));
      });
    const before = await metric('umbra_edge_tls_handshake_failures_total{reason="alpn"}');
    const refused = await handshake(["h2", "http/1.1"]);
    assert.ok(refused instanceof Error, `connected with ${String(refused)}`);
    assert.match(String((refused as NodeJS.ErrnoException).code), /NO_APPLICATION_PROTOCOL/);
    assert.equal(await handshake(["x-amzn-mqtt-ca"]), "x-amzn-mqtt-ca");
    assert.equal(await handshake(["mqtt"]), "mqtt");
    assert.equal(await handshake(undefined), false);
    assert.equal(
      await metric('umbra_edge_tls_handshake_failures_total{reason="alpn"}'),
      before + 1,
    );
  });

  it("a TLS handshake that never completes is closed (MQTT_TLS_HANDSHAKE_TIMEOUT_MS) and counted", async () => {
    const before = await metric('umbra_edge_tls_handshake_failures_total{reason="timeout"}');
    const socket = netConnect({ host: "127.0.0.1", port: tlsPort });
    // A client that sends the first bytes of a ClientHello and then nothing.
    socket.on("connect", () => socket.write(Buffer.from([0x16, 0x03, 0x01])));
    await withDeadline(
      new Promise<void>((resolve) => socket.once("close", () => resolve())),
      10_000,
      () => "the stalled handshake was not closed",
    );
    assert.equal(
      await metric('umbra_edge_tls_handshake_failures_total{reason="timeout"}'),
      before + 1,
    );
  });

  it("completed handshakes are counted in /metrics", async () => {
    const before = await metric("umbra_edge_tls_handshakes_total");
    const d = registerDevice(redis.url, PID, "counted");
    const client = await connectTls({
      clientId: d.deviceName,
      username: d.productId,
      password: d.token,
    });
    await client.endAsync();
    assert.equal(await metric("umbra_edge_tls_handshakes_total"), before + 1);
  });

  it("a second start reuses the development CA and server certificate", async () => {
    const files = ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"].map((f) =>
      join(dataDir, "tls", f),
    );
    const beforeStart = files.map((f) => [readFileSync(f, "utf8"), statSync(f).mtimeMs]);
    const edge = await startService(["edge"], {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      MQTT_PORT: "0",
      MQTTS_PORT: "0",
      MQTT_HOST: "127.0.0.1",
      OPS_PORT: "0",
      UMBRA_DATA_DIR: dataDir,
    });
    try {
      assert.equal(edge.ready.edge?.caPath, join(dataDir, "tls", "ca.pem"));
      assert.deepEqual(
        files.map((f) => [readFileSync(f, "utf8"), statSync(f).mtimeMs]),
        beforeStart,
      );
      // And it serves the same certificate: a client trusting the CA connects.
      const d = registerDevice(redis.url, PID, "second-edge");
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${edge.ready.edge?.mqttsPort}`, {
        ca,
        clientId: d.deviceName,
        username: d.productId,
        password: d.token,
        reconnectPeriod: 0,
      });
      await client.endAsync();
    } finally {
      await edge.stop();
    }
  });

  it("an edge with MQTT_TLS_CERT and MQTT_TLS_KEY serves those files and picks up a renewed certificate", async () => {
    const dir = await mkdtemp(join(tmpdir(), "umbra-tls-files-"));
    try {
      const first = await ensureDevelopmentCertificates(join(dir, "first"));
      const renewed = await ensureDevelopmentCertificates(join(dir, "renewed"));
      const certPath = join(dir, "tls.crt");
      const keyPath = join(dir, "tls.key");
      const install = (pair: { certPem: string; keyPem: string }) => {
        for (const [path, text] of [
          [keyPath, pair.keyPem],
          [certPath, pair.certPem],
        ] as const) {
          writeFileSync(`${path}.new`, text);
          renameSync(`${path}.new`, path);
        }
      };
      install(first);
      const edge = await startService(["edge"], {
        NATS_URL: nats.url,
        REDIS_URL: redis.url,
        MQTT_PORT: "0",
        MQTTS_PORT: "0",
        MQTT_HOST: "127.0.0.1",
        MQTT_TLS_CERT: certPath,
        MQTT_TLS_KEY: keyPath,
        MQTT_TLS_RELOAD_MS: "1000",
        // Never written to: configured certificates need no development CA.
        UMBRA_DATA_DIR: join(dir, "unused"),
      });
      try {
        assert.equal(edge.ready.edge?.caPath, undefined);
        const port = edge.ready.edge?.mqttsPort as number;
        /** The certificate served to a client trusting `caPem`, or undefined if refused. */
        const served = (caPem: string) =>
          new Promise<string | undefined>((resolve) => {
            const socket = tlsConnect({ host: "127.0.0.1", port, ca: caPem });
            socket.once("secureConnect", () => {
              resolve(socket.getPeerCertificate().fingerprint256);
              socket.destroy();
            });
            socket.once("error", () => resolve(undefined));
          });
        const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
        assert.equal(await served(first.caPem), fingerprint(first.certPem));
        install(renewed);
        const expected = fingerprint(renewed.certPem);
        await pollUntil(async () => (await served(renewed.caPem)) === expected, {
          timeoutMs: 15_000,
          intervalMs: 200,
          what: "the renewed certificate is served",
        });
        assert.throws(() => statSync(join(dir, "unused")));
      } finally {
        await edge.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

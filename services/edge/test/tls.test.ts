import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { connect as tlsConnect } from "node:tls";
import {
  type DevelopmentCertificates,
  ensureDevelopmentCertificates,
  issueDeviceCertificate,
} from "@umbra/tls";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { generate } from "mqtt-packet";
import { type Edge, PASSWORD, PRODUCT, startEdge, withDeadline } from "./helpers.js";

let dir: string;
let foreignDir: string;
let dev: DevelopmentCertificates;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "umbra-edge-tls-"));
  foreignDir = mkdtempSync(join(tmpdir(), "umbra-edge-tls-foreign-"));
  dev = await ensureDevelopmentCertificates(dir);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(foreignDir, { recursive: true, force: true });
});

/** An edge with a TestBackend listening on plain TCP and TLS (the development CA trusted for clients). */
const startTlsEdge = async (
  t: TestContext,
  limits: Parameters<typeof startEdge>[1] = {},
): Promise<Edge & { tlsPort: number }> => {
  const edge = await startEdge(t, limits);
  const tlsPort = await edge.server.listenTls(0, "127.0.0.1", {
    cert: dev.certPem,
    key: dev.keyPem,
    ca: [dev.caPem],
    handshakeTimeoutMs: 5_000,
  });
  return { ...edge, tlsPort };
};

const connectTls = (
  t: TestContext,
  port: number,
  deviceName: string,
  options: IClientOptions = {},
): Promise<MqttClient> =>
  mqtt
    .connectAsync(`mqtts://127.0.0.1:${port}`, {
      ca: dev.caPem,
      clientId: deviceName,
      username: PRODUCT,
      password: PASSWORD,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      protocolVersion: 4,
      ...options,
    })
    .then((client) => {
      t.after(() => client.endAsync(true));
      return client;
    });

const refusalCode = async (connecting: Promise<MqttClient>): Promise<number | undefined> => {
  try {
    await connecting;
    return 0;
  } catch (e) {
    return (e as { code?: number }).code;
  }
};

describe("TLS listener", () => {
  it("serves the same sessions as the plain listener: CONNECT, QoS 1 PUBLISH to the backend, PUBACK", async (t) => {
    const edge = await startTlsEdge(t);
    const client = await connectTls(t, edge.tlsPort, "d1");
    await client.publishAsync(`$sys/${PRODUCT}/d1/image/update`, "{}", { qos: 1 });
    assert.equal(edge.backend.publishes.length, 1);
    assert.equal(edge.backend.publishes[0]?.session.deviceKey, `${PRODUCT}/d1`);
    assert.equal(edge.server.sessionCount, 1);
    // One device, one session, whichever listener: the plain one takes the TLS one over.
    const plain = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.port}`, {
      clientId: "d1",
      username: PRODUCT,
      password: PASSWORD,
      reconnectPeriod: 0,
    });
    t.after(() => plain.endAsync(true));
    await withDeadline(
      new Promise<void>((resolve) => client.once("close", () => resolve())),
      "the TLS session taken over",
    );
    assert.equal(edge.server.sessionCount, 1);
  });

  it("tells the backend the client certificate: fingerprint, CN and O, and whether it chains to a trusted CA", async (t) => {
    const edge = await startTlsEdge(t);
    const signed = await issueDeviceCertificate(dir, { productId: PRODUCT, deviceName: "c1" }, 1);
    const foreign = await issueDeviceCertificate(
      foreignDir,
      { productId: "X", deviceName: "Y" },
      1,
    );
    await connectTls(t, edge.tlsPort, "c1", { cert: signed.certPem, key: signed.keyPem });
    await connectTls(t, edge.tlsPort, "c2", { cert: foreign.certPem, key: foreign.keyPem });
    await connectTls(t, edge.tlsPort, "c3");
    const [withSigned, withForeign, without] = edge.backend.credentials;
    assert.deepEqual(withSigned?.certificate, {
      fingerprint: signed.info.fingerprint,
      commonName: "c1",
      organization: PRODUCT,
      chainTrusted: true,
      notBefore: signed.info.notBefore.getTime(),
      notAfter: signed.info.notAfter.getTime(),
    });
    assert.deepEqual(withForeign?.certificate, {
      fingerprint: foreign.info.fingerprint,
      commonName: "Y",
      organization: "X",
      chainTrusted: false,
      notBefore: foreign.info.notBefore.getTime(),
      notAfter: foreign.info.notAfter.getTime(),
    });
    assert.equal(without?.certificate, undefined);
    assert.equal(edge.backend.sessionOf("c1").certificateFingerprint, signed.info.fingerprint);
    assert.equal(edge.backend.sessionOf("c3").certificateFingerprint, undefined);
  });

  it("counts failed authentications over TLS in the throttle the plain listener uses", async (t) => {
    const edge = await startTlsEdge(t, { authFailureLimit: 2 });
    for (let i = 0; i < 2; i++)
      assert.equal(await refusalCode(connectTls(t, edge.tlsPort, "d1", { password: "wrong" })), 4);
    const calls = edge.backend.authenticateCalls;
    // The address is blocked on both listeners, the right password or not.
    assert.equal(
      await refusalCode(
        mqtt.connectAsync(`mqtt://127.0.0.1:${edge.port}`, {
          clientId: "d1",
          username: PRODUCT,
          password: PASSWORD,
          reconnectPeriod: 0,
        }),
      ),
      5,
    );
    assert.equal(await refusalCode(connectTls(t, edge.tlsPort, "d1")), 5);
    assert.equal(edge.backend.authenticateCalls, calls, "refused without asking the backend");
  });

  it("applies the strict first-packet check over TLS: a first packet that is not CONNECT ends the connection", async (t) => {
    const edge = await startTlsEdge(t);
    const socket = tlsConnect({ host: "127.0.0.1", port: edge.tlsPort, ca: dev.caPem });
    t.after(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.write(generate({ cmd: "pingreq" }));
    await withDeadline(closed, "the connection closed");
    assert.equal(edge.backend.authenticateCalls, 0);
  });
});

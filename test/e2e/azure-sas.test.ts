/**
 * Azure IoT Hub shared-access-signature authentication at the edge (issue 14 §2), with
 * tokens built by the official SDK's own code (`azure-iot-common`), over the TLS
 * listener as the Azure SDK connects: product = the hub host name's first DNS label,
 * device = DeviceId = client id, key = the device key. The twin topics come with the
 * Azure dialect; here a SAS-authenticated device uses its OneNET image topics.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { issueDeviceCertificate } from "@umbra/tls";
import mqtt, { type MqttClient } from "mqtt";
import {
  type AllInOne,
  type RegisteredDevice,
  registerDevice,
  startAllInOne,
  withDeadline,
} from "../src/harness.js";

interface SdkCommon {
  encodeUriComponentStrict(s: string): string;
  SharedAccessSignature: {
    create(sr: string, keyName: string | null, key: string, expiry: number): { toString(): string };
  };
}
const sdk = createRequire(import.meta.url)("azure-iot-common") as SdkCommon;

const PID = "hub1";
const HOST = `${PID}.azure-devices.net`;

let cluster: AllInOne;
let tlsPort: number;
let ca: string;
const clients: MqttClient[] = [];

/** A device token as `azure-iot-device` builds one. */
const sas = (d: RegisteredDevice, key: string, expiry: number, host = HOST): string =>
  sdk.SharedAccessSignature.create(
    sdk.encodeUriComponentStrict(`${host}/devices/${d.deviceName}`),
    null,
    key,
    expiry,
  ).toString();

const username = (deviceId: string, host = HOST) =>
  `${host}/${deviceId}/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4`;

const hourFromNow = () => Math.floor(Date.now() / 1000) + 3600;

const connect = (clientId: string, user: string, password: string): Promise<MqttClient> =>
  mqtt
    .connectAsync(`mqtts://localhost:${tlsPort}`, {
      ca,
      clientId,
      username: user,
      password,
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    })
    .then((client) => {
      clients.push(client);
      return client;
    });

/** The CONNACK return code of a refused CONNECT (0 when accepted). */
const refusal = async (connecting: Promise<MqttClient>): Promise<number | undefined> => {
  try {
    await connecting;
    return 0;
  } catch (e) {
    return (e as { code?: number }).code;
  }
};

before(async () => {
  cluster = await startAllInOne();
  tlsPort = cluster.tlsPort;
  ca = cluster.ca;
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.endAsync(true)));
  await cluster?.stop();
});

describe("Azure SAS authentication at the edge", () => {
  it("a token the SDK signs with the device key connects as {first host label}/{DeviceId}, which then owns that device's topics", async () => {
    const d = registerDevice(cluster.redis.url, PID, "thermo");
    const client = await connect("thermo", username("thermo"), sas(d, d.key, hourFromNow()));
    const image = `$sys/${PID}/thermo/image`;
    await client.subscribeAsync(`${image}/update/accepted`);
    const accepted = new Promise<{ version: number }>((resolve) =>
      client.on("message", (topic, payload) => {
        if (topic === `${image}/update/accepted`) resolve(JSON.parse(payload.toString()));
      }),
    );
    await client.publishAsync(
      `${image}/update`,
      JSON.stringify({ state: { reported: { t: 21 } } }),
      {
        qos: 1,
      },
    );
    assert.equal((await withDeadline(accepted, 10_000, () => "no update/accepted")).version, 1);
    // Another device's topics stay closed to it.
    // (mqtt.js turns a 3.1.1 SUBACK 0x80 into an error.)
    await assert.rejects(client.subscribeAsync(`$sys/${PID}/other/image/update/accepted`));
  });

  it("refuses a token signed with another key, an expired one, and one for another device or hub (bad username or password)", async () => {
    const d = registerDevice(cluster.redis.url, PID, "strict");
    const other = registerDevice(cluster.redis.url, PID, "other");
    const stranger = Buffer.alloc(32, 7).toString("base64");
    assert.equal(
      await refusal(connect("strict", username("strict"), sas(d, stranger, hourFromNow()))),
      4,
    );
    const past = Math.floor(Date.now() / 1000) - 1;
    assert.equal(await refusal(connect("strict", username("strict"), sas(d, d.key, past))), 4);
    // other's own valid token, presented as strict.
    assert.equal(
      await refusal(connect("strict", username("strict"), sas(other, other.key, hourFromNow()))),
      4,
    );
    // A token for the same device name on another hub (product).
    assert.equal(
      await refusal(
        connect(
          "strict",
          username("strict"),
          sas(d, d.key, hourFromNow(), "hub2.azure-devices.net"),
        ),
      ),
      4,
    );
  });

  it("a device not registered under the hub's product is not authorized", async () => {
    const d = registerDevice(cluster.redis.url, "elsewhere", "ghost");
    // Same device name and key, but the hub names product hub1, where it is unknown.
    assert.equal(
      await refusal(connect("ghost", username("ghost"), sas(d, d.key, hourFromNow()))),
      5,
    );
  });

  it("an X.509 device (a certificate of Umbra's CA naming product and device) connects with the Azure username and no password", async () => {
    registerDevice(cluster.redis.url, PID, "x509");
    const cert = await issueDeviceCertificate(
      cluster.dataDir,
      { productId: PID, deviceName: "x509" },
      1,
    );
    const client = await mqtt.connectAsync(`mqtts://localhost:${tlsPort}`, {
      ca,
      cert: cert.certPem,
      key: cert.keyPem,
      clientId: "x509",
      username: username("x509"),
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    clients.push(client);
    assert.ok(client.connected);
    // The hub in the username must still be the certificate's product.
    const elsewhere = mqtt.connectAsync(`mqtts://localhost:${tlsPort}`, {
      ca,
      cert: cert.certPem,
      key: cert.keyPem,
      clientId: "x509",
      username: username("x509", "hub2.azure-devices.net"),
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    assert.equal(await refusal(elsewhere), 5);
  });

  it("a client id other than the DeviceId is refused", async () => {
    const d = registerDevice(cluster.redis.url, PID, "named");
    assert.notEqual(
      await refusal(connect("someone-else", username("named"), sas(d, d.key, hourFromNow()))),
      0,
    );
  });
});

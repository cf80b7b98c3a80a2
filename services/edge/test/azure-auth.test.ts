/**
 * How an Azure IoT device's CONNECT authenticates (DIALECTS.md §2.5): client id =
 * deviceId, username `{hub host}/{deviceId}/?api-version=…[&model-id=…]`, and either a
 * SAS token as password or, over TLS, an X.509 client certificate and no password. The
 * hub host's first label is the product. `authenticateDevice` against an in-memory
 * registry (the e2e tests run both through a real edge with Azure's SDK).
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { newDeviceKey } from "@umbra/dialects";
import type { DeviceRegistry } from "@umbra/store";
import type { AuthResult, ClientCertificate } from "../src/backend.js";
import { authenticateDevice } from "../src/bus/authenticate.js";

const NOW = Date.UTC(2026, 5, 1);
const REGISTERED_FP = "ab".repeat(32);
const CA_SIGNED_FP = "cd".repeat(32);
const KEY = newDeviceKey();
const HUB = "p1.azure-devices.net";
const API = "?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4";
const MODEL = "dtmi:com:example:Thermostat;1";

/** Devices p1/dev1 and p1/dev2; dev1 has a registered certificate. */
const registry = {
  get: async (key: string) =>
    key === "p1/dev1" || key === "p1/dev2" ? { key: KEY, createdAt: 0 } : undefined,
  certificateOwner: async (fingerprint: string) =>
    fingerprint === REGISTERED_FP ? "p1/dev1" : undefined,
  isCertificateRevoked: async () => false,
  subDevices: async () => [],
} as unknown as DeviceRegistry;

const registered: ClientCertificate = {
  fingerprint: REGISTERED_FP,
  commonName: "anything",
  organization: undefined,
  chainTrusted: false,
  notBefore: NOW - 1_000,
  notAfter: NOW + 1_000,
};

/** Signed by a CA the listener trusts, naming p1/dev1 in its subject. */
const caSigned: ClientCertificate = {
  fingerprint: CA_SIGNED_FP,
  commonName: "dev1",
  organization: "p1",
  chainTrusted: true,
  notBefore: NOW - 1_000,
  notAfter: NOW + 1_000,
};

const usernameOf = (deviceId: string, hub = HUB, extra = "") => `${hub}/${deviceId}/${API}${extra}`;

/** A device SAS token as `azure-iot-common` signs it. */
const sasOf = (deviceId: string, key = KEY, hub = HUB): Buffer => {
  const sr = encodeURIComponent(`${hub}/devices/${deviceId}`);
  const se = Math.floor(NOW / 1000) + 3_600;
  const sig = createHmac("sha256", Buffer.from(key, "base64"))
    .update(`${sr}\n${se}`)
    .digest("base64");
  return Buffer.from(`SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`);
};

const connect = (
  clientId: string,
  username: string,
  password: Buffer | undefined,
  certificate?: ClientCertificate,
): Promise<AuthResult> =>
  authenticateDevice(registry, { clientId, username, password, certificate }, () => NOW);

const refusal = (result: AuthResult) => (result.ok ? "accepted" : result.refusal);

describe("an Azure device's X.509 CONNECT", () => {
  it("with a registered certificate and no password is the certificate's device, in the Azure dialect", async () => {
    const result = await connect("dev1", usernameOf("dev1"), undefined, registered);
    assert.deepEqual(result, {
      ok: true,
      device: { productId: "p1", deviceName: "dev1" },
      dialect: "azure",
      modelId: undefined,
    });
  });

  it("with a CA-signed certificate naming the device (CN dev1, O p1) is that device", async () => {
    const result = await connect("dev1", usernameOf("dev1"), undefined, caSigned);
    assert.deepEqual(result.ok && result.device, { productId: "p1", deviceName: "dev1" });
    assert.equal(result.ok && result.dialect, "azure");
  });

  it("is refused when the deviceId (client id) is not the certificate's device", async () => {
    for (const certificate of [registered, caSigned]) {
      const result = await connect("dev2", usernameOf("dev2"), undefined, certificate);
      assert.equal(refusal(result), "not-authorized");
    }
  });

  it("is refused when the hub's first label is not the certificate's product", async () => {
    for (const certificate of [registered, caSigned]) {
      const result = await connect(
        "dev1",
        usernameOf("dev1", "p2.azure-devices.net"),
        undefined,
        certificate,
      );
      assert.equal(refusal(result), "not-authorized");
    }
  });

  it("carries the model id the username names, for the shard's `$model`", async () => {
    const withModel = usernameOf("dev1", HUB, `&model-id=${MODEL}`);
    for (const certificate of [registered, caSigned]) {
      const result = await connect("dev1", withModel, undefined, certificate);
      assert.equal(result.ok && result.modelId, MODEL);
    }
  });

  it("is refused for a model id that is no DTMI, saying so", async () => {
    const bad = usernameOf("dev1", HUB, "&model-id=thermostat");
    for (const certificate of [registered, caSigned]) {
      const result = await connect("dev1", bad, undefined, certificate);
      assert.equal(result.ok, false);
      assert.match(result.ok ? "" : result.detail, /model-id is not a DTMI/);
    }
  });

  it("is refused when the username's deviceId is not the client id", async () => {
    const result = await connect("dev1", usernameOf("dev2"), undefined, registered);
    assert.equal(result.ok, false);
  });
});

describe("an Azure device's SAS CONNECT", () => {
  it("is the username's device, in the Azure dialect", async () => {
    const result = await connect("dev2", usernameOf("dev2"), sasOf("dev2"));
    assert.deepEqual(result, {
      ok: true,
      device: { productId: "p1", deviceName: "dev2" },
      dialect: "azure",
      modelId: undefined,
    });
  });

  it("carries the model id the username names; one that is no DTMI refuses the CONNECT", async () => {
    const result = await connect(
      "dev2",
      usernameOf("dev2", HUB, `&model-id=${MODEL}`),
      sasOf("dev2"),
    );
    assert.equal(result.ok && result.modelId, MODEL);
    const bad = await connect(
      "dev2",
      usernameOf("dev2", HUB, "&model-id=thermostat"),
      sasOf("dev2"),
    );
    assert.equal(refusal(bad), "bad-credentials");
  });

  it("is refused with another device's key (bad credentials)", async () => {
    const result = await connect("dev2", usernameOf("dev2"), sasOf("dev2", newDeviceKey()));
    assert.equal(refusal(result), "bad-credentials");
  });
});

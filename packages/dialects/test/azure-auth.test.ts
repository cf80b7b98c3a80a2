import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import {
  type AzureCredentials,
  authenticateAzure,
  MAX_AZURE_SAS_LENGTH,
  recogniseAzure,
} from "../src/azure/index.js";
import type { AuthRefusal } from "../src/dialect.js";
import { newDeviceKey } from "../src/onenet/token.js";

/** The official SDK's token code (`azure-iot-common` 1.13.3), unmodified. */
interface SdkCommon {
  encodeUriComponentStrict(s: string): string;
  SharedAccessSignature: {
    create(sr: string, keyName: string | null, key: string, expiry: number): { toString(): string };
  };
}
const sdk = createRequire(import.meta.url)("azure-iot-common") as SdkCommon;

/**
 * A device token exactly as `azure-iot-device` builds one: the resource
 * `{host}/devices/{deviceId}` strictly URL-encoded, no key name (`skn` only for policies).
 */
const sdkDeviceToken = (host: string, deviceId: string, key: string, expiry: number): string =>
  sdk.SharedAccessSignature.create(
    sdk.encodeUriComponentStrict(`${host}/devices/${deviceId}`),
    null,
    key,
    expiry,
  ).toString();

const host = "prod1.azure-devices.net";
const now = 1_796_279_687;
const expiry = now + 3600;
const key = newDeviceKey();
const bytes = (s: string) => Buffer.from(s, "latin1");
const sdkUsername = (h: string, deviceId: string) =>
  `${h}/${deviceId}/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)`;

const credentials = (clientId: string, username: string): AzureCredentials => {
  const c = recogniseAzure(clientId, username);
  assert.ok(c !== undefined && !("ok" in c), `recognised: ${JSON.stringify(c)}`);
  return c;
};

const refusal = (clientId: string, username: string): string => {
  const r = recogniseAzure(clientId, username);
  assert.ok(r !== undefined && "ok" in r, `refused: ${JSON.stringify(r)}`);
  return (r as AuthRefusal).reason;
};

/** The refusal reason for a password, or "accepted". */
const verdict = (password: string | Uint8Array, deviceKey = key, at = now): string => {
  const c = credentials("dev3", sdkUsername(host, "dev3"));
  const r = authenticateAzure(
    c,
    typeof password === "string" ? bytes(password) : password,
    deviceKey,
    at,
  );
  return r.ok ? "accepted" : r.reason;
};

describe("Azure IoT Hub SAS authentication (azure-iot-device, azure-iot-common 1.13.3)", () => {
  it("matches the captured vector in DIALECTS.md §2.5", () => {
    const captured =
      "SharedAccessSignature sr=prod1.azure-devices.net%2Fdevices%2Fdev2&sig=Pqb6V%2BAORTKBV8Azki1yX%2BFGl2OwPFfgYa%2BucBz3YBM%3D&se=1796283287";
    const capturedKey = Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
    const c = credentials("dev2", sdkUsername(host, "dev2"));
    assert.deepEqual(authenticateAzure(c, bytes(captured), capturedKey, now), {
      ok: true,
      identity: { productId: "prod1", deviceName: "dev2" },
    });
    assert.equal(sdkDeviceToken(host, "dev2", capturedKey, 1796283287), captured);
  });

  it("accepts a token the SDK signs with an Umbra device key, naming the device", () => {
    const c = credentials("dev3", sdkUsername(host, "dev3"));
    assert.deepEqual(c, { identity: { productId: "prod1", deviceName: "dev3" }, hostName: host });
    assert.deepEqual(
      authenticateAzure(c, bytes(sdkDeviceToken(host, "dev3", key, expiry)), key, now),
      {
        ok: true,
        identity: { productId: "prod1", deviceName: "dev3" },
      },
    );
  });

  it("reads the same identity with or without the ?api-version…&model-id=… metadata", () => {
    const identity = { productId: "prod1", deviceName: "dev3" };
    for (const username of [
      sdkUsername(host, "dev3"),
      `${sdkUsername(host, "dev3")}&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1`,
      `${host}/dev3/?api-version=2021-04-12&model-id=dtmi:com:example:Thermostat;1`,
      `${host}/dev3/`,
      `${host}/dev3`,
      "prod1/dev3/",
    ])
      assert.deepEqual(credentials("dev3", username).identity, identity, username);
  });

  it("refuses a token signed with another key", () => {
    assert.match(
      verdict(sdkDeviceToken(host, "dev3", newDeviceKey(), expiry)),
      /sig does not match/,
    );
  });

  it("refuses a token whose se is now or past, accepts one a second ahead", () => {
    const token = sdkDeviceToken(host, "dev3", key, expiry);
    assert.equal(verdict(token, key, expiry - 1), "accepted");
    assert.match(verdict(token, key, expiry), /expired/);
    assert.match(verdict(token, key, expiry + 1), /expired/);
  });

  it("refuses a token for another device or another hub, even signed with this key", () => {
    assert.match(verdict(sdkDeviceToken(host, "dev4", key, expiry)), /sr does not name/);
    assert.match(verdict(sdkDeviceToken("prod2.azure-devices.net", "dev3", key, expiry)), /sr/);
    assert.match(verdict(sdkDeviceToken(`${host}.evil`, "dev3", key, expiry)), /sr/);
    assert.match(verdict(sdkDeviceToken(host, "dev3/modules/m1", key, expiry)), /sr/);
    assert.match(verdict(sdkDeviceToken(host, "Dev3", key, expiry)), /sr/);
  });

  it("compares sr decoded and the host case-insensitively, but signs sr as sent", () => {
    assert.equal(
      verdict(sdkDeviceToken("PROD1.Azure-Devices.NET", "dev3", key, expiry)),
      "accepted",
    );
    // Older SDKs encoded only the deviceId: the decoded resource is the same.
    const partlyEncoded = sdk.SharedAccessSignature.create(
      `${host}/devices/dev3`,
      null,
      key,
      expiry,
    );
    assert.equal(verdict(partlyEncoded.toString()), "accepted");
    // The same resource, encoded differently after signing, no longer matches the sig.
    const token = sdkDeviceToken(host, "dev3", key, expiry);
    assert.match(
      verdict(token.replace("%2Fdevices%2Fdev3", "/devices/dev3")),
      /sig does not match/,
    );
  });

  it("refuses a tampered sig: one character, a re-encoded character, truncated, extended", () => {
    const token = sdkDeviceToken(host, "dev3", key, expiry);
    const sig = /sig=([^&]+)/.exec(token)?.[1] ?? "";
    const swap = (s: string) => token.replace(`sig=${sig}`, `sig=${s}`);
    const other = sig[0] === "A" ? "B" : "A";
    assert.match(verdict(swap(other + sig.slice(1))), /sig does not match/);
    // U+0100 above the first character: the same byte in latin1, other bytes in UTF-8.
    const lookalike = encodeURIComponent(String.fromCharCode(0x100 + sig.charCodeAt(0)));
    assert.match(verdict(swap(lookalike + sig.slice(1))), /sig does not match/);
    assert.match(verdict(swap(sig.slice(0, -3))), /sig does not match/);
    assert.match(verdict(swap(`${sig}QQ`)), /sig does not match/);
    assert.match(verdict(swap("%E0%A4%A")), /sig is not URL-encoded/);
  });

  it("reads the fields in any order and refuses missing, repeated, unknown or malformed ones", () => {
    const token = sdkDeviceToken(host, "dev3", key, expiry);
    const fields = token.slice("SharedAccessSignature ".length).split("&");
    const [sr, sig, se] = fields as [string, string, string];
    const sas = (...f: string[]) => `SharedAccessSignature ${f.join("&")}`;
    assert.equal(verdict(sas(se, sig, sr)), "accepted");
    assert.equal(verdict(sas(sig, sr, se)), "accepted");
    assert.match(verdict(sas(sig, se)), /no sr/);
    assert.match(verdict(sas(sr, se)), /no sig/);
    assert.match(verdict(sas(sr, sig)), /se is not epoch seconds/);
    assert.match(verdict(sas("sr=", sig, se)), /no sr/);
    assert.match(verdict(sas(sr, "sig=", se)), /no sig/);
    assert.match(verdict(sas(sr, sig, "se=17x")), /se is not epoch seconds/);
    assert.match(verdict(sas(sr, sig, "se=1234567890123")), /se is not epoch seconds/);
    assert.match(verdict(sas(sr, sig, se, se)), /repeats 'se'/);
    assert.match(verdict(sas(sr, sig, se, "x=1")), /not sr, sig, se or skn/);
    assert.match(verdict(sas(sr, sig, se, "")), /not sr, sig, se or skn/);
    assert.match(verdict(sas("sr=%E0%A4%A", sig, se)), /sr is not URL-encoded/);
    assert.match(
      verdict(token.replace("SharedAccessSignature ", "SharedAccessSignature  ")),
      /not sr/,
    );
    assert.match(
      verdict(token.replace("SharedAccessSignature ", "sharedaccesssignature ")),
      /not 'SharedAccessSignature/,
    );
    assert.match(
      verdict(token.slice("SharedAccessSignature ".length)),
      /not 'SharedAccessSignature/,
    );
    assert.match(verdict(""), /not 'SharedAccessSignature/);
  });

  it("refuses a policy token (skn), even one signed with the device key", () => {
    const policy = sdk.SharedAccessSignature.create(
      sdk.encodeUriComponentStrict(`${host}/devices/dev3`),
      "iothubowner",
      key,
      expiry,
    ).toString();
    assert.match(policy, /&skn=iothubowner/);
    assert.match(verdict(policy), /policy token \(skn\)/);
  });

  it("refuses cleanly when the stored device key is not padded standard base64", () => {
    const token = sdkDeviceToken(host, "dev3", key, expiry);
    for (const bad of [
      "",
      "not base64!",
      key.slice(0, -1),
      Buffer.from(key, "base64").toString("base64url"),
      `${key}\n`,
    ])
      assert.match(verdict(token, bad), /device key is not base64/, JSON.stringify(bad));
    assert.equal(verdict(token, key), "accepted");
  });

  it("refuses a password past MAX_AZURE_SAS_LENGTH unread, and reads one at it", () => {
    const token = sdkDeviceToken(host, "dev3", key, expiry);
    const padded = (n: number) => `${token}&sr=${"x".repeat(n - token.length - 4)}`;
    assert.equal(padded(MAX_AZURE_SAS_LENGTH).length, MAX_AZURE_SAS_LENGTH);
    assert.match(verdict(padded(MAX_AZURE_SAS_LENGTH)), /repeats 'sr'/);
    assert.match(verdict(padded(MAX_AZURE_SAS_LENGTH + 1)), /longer than 2048 bytes/);
  });

  it("accepts the longest identity's token well under the bound", () => {
    const longHost = `${"p".repeat(64)}.${"!".repeat(63)}.${"(".repeat(63)}.${"*".repeat(60)}`;
    const deviceId = "'".repeat(64);
    assert.equal(longHost.length, 253);
    const token = sdkDeviceToken(longHost, deviceId, key, expiry);
    assert.ok(token.length < MAX_AZURE_SAS_LENGTH, `${token.length}`);
    const c = credentials(deviceId, `${longHost}/${deviceId}/?api-version=2021-04-12`);
    assert.equal(authenticateAzure(c, bytes(token), key, now).ok, true);
  });

  it("refuses a password with bytes outside printable ASCII", () => {
    const token = sdkDeviceToken(host, "dev3", key, expiry);
    assert.match(verdict(Buffer.from(`${token}\u00e9`, "utf8")), /printable ASCII/);
    assert.match(verdict(`${token}\n`), /printable ASCII/);
  });

  it("refuses a client id that is not the username's deviceId", () => {
    assert.match(
      refusal("dev4", sdkUsername(host, "dev3")),
      /client id "dev4" is not the username's deviceId/,
    );
    assert.match(refusal("", sdkUsername(host, "dev3")), /not the username's deviceId/);
  });

  it("refuses module identities clearly", () => {
    assert.match(
      refusal("dev3/mod1", `${host}/dev3/mod1/?api-version=2021-04-12`),
      /module identities/,
    );
    assert.match(refusal("dev3", `${host}/dev3/mod1/`), /module identities/);
    assert.match(refusal("dev3/mod1", sdkUsername(host, "dev3")), /module identities/);
  });

  it("refuses host names and deviceIds that break the name rules", () => {
    const cases: [string, string, RegExp][] = [
      ["dev3", "/dev3/", /no hub host name/],
      ["dev3", ".azure-devices.net/dev3/", /empty DNS label/],
      ["dev3", "prod1..net/dev3/", /empty DNS label/],
      ["dev3", "prod1.net./dev3/", /empty DNS label/],
      ["dev3", "127.0.0.1:8883/dev3/", /port/],
      ["dev3", "pr od1.azure-devices.net/dev3/", /whitespace/],
      ["dev3", `${"h".repeat(250)}.net/dev3/`, /longer than 253/],
      ["dev3", `${"p".repeat(65)}.azure-devices.net/dev3/`, /product id.*longer than 64/],
      ["dev3", "pr+od1.azure-devices.net/dev3/", /product id/],
      ["dev3", "pr#od1.azure-devices.net/dev3/", /product id/],
      ["", `${host}//`, /deviceId is empty/],
      ["de+v3", `${host}/de+v3/`, /deviceId/],
      ["d".repeat(65), `${host}/${"d".repeat(65)}/`, /deviceId is longer than 64/],
    ];
    for (const [clientId, username, reason] of cases)
      assert.match(refusal(clientId, username), reason, username);
  });

  it("leaves usernames without '/' before the first '?' to other dialects", () => {
    for (const username of [
      "prod1",
      "dev3&prod1",
      "prod1?SDK=IoTDeviceSDK/JS&Version=1.0",
      "?SDK=JavaScript&Version=2.2.16",
      "",
    ])
      assert.equal(recogniseAzure("dev3", username), undefined, username);
  });
});

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import {
  type AliyunCredentials,
  type AuthRefusal,
  aliyunDialect,
  authenticateAliyun,
  recogniseAliyun,
} from "../src/index.js";

/** The official SDK's own connect-parameter code (`lib/model.js`), unmodified. */
interface SdkParams {
  clientId: string;
  username: string;
  password: string;
  clean: boolean;
}
type SdkModel = new (config: Record<string, unknown>) => { genConnectPrarms(): SdkParams };
const SdkModel = createRequire(import.meta.url)(
  "alibabacloud-iot-device-sdk/lib/model.js",
) as SdkModel;

const sdkConnect = (config: Record<string, unknown>): SdkParams =>
  new SdkModel({
    productKey: "prod1",
    deviceName: "dev3",
    deviceSecret: "c2VjcmV0",
    brokerUrl: "mqtt://127.0.0.1:1883",
    ...config,
  }).genConnectPrarms();

const secret = "c2VjcmV0";
const bytes = (s: string) => Buffer.from(s, "latin1");

const credentials = (clientId: string, username: string): AliyunCredentials => {
  const c = recogniseAliyun(clientId, username);
  assert.ok(c !== undefined && !("ok" in c), `recognised: ${JSON.stringify(c)}`);
  return c;
};

const refusal = (clientId: string, username: string): string => {
  const r = recogniseAliyun(clientId, username);
  assert.ok(r !== undefined && "ok" in r, `refused: ${JSON.stringify(r)}`);
  return (r as AuthRefusal).reason;
};

describe("Alibaba sign authentication (alibabacloud-iot-device-sdk 1.2.8)", () => {
  it("matches the captured vector in DIALECTS.md §3.5", () => {
    const clientId =
      "prod1&dev3|securemode=3,signmethod=hmacsha1,timestamp=1796279698974,lan=NodeJS,_v=1.2.8|";
    const c = credentials(clientId, "dev3&prod1");
    assert.deepEqual(
      authenticateAliyun(c, bytes("3e791e2fe2682d02fb5f936150d6ca6d58116973"), secret),
      { ok: true, identity: { productId: "prod1", deviceName: "dev3" } },
    );
  });

  for (const signAlgorithm of [undefined, "sha1", "sha256"]) {
    it(`accepts what the SDK's own code sends with signAlgorithm ${signAlgorithm}`, () => {
      const p = sdkConnect(signAlgorithm === undefined ? {} : { signAlgorithm });
      const c = credentials(p.clientId, p.username);
      assert.deepEqual(authenticateAliyun(c, bytes(p.password), secret), {
        ok: true,
        identity: { productId: "prod1", deviceName: "dev3" },
      });
    });
  }

  it("verifies the label hmacsha256 with SHA-1, as the SDK signs: a real SHA-256 is refused", () => {
    const p = sdkConnect({ signAlgorithm: "sha256" });
    assert.match(p.clientId, /signmethod=hmacsha256/);
    const c = credentials(p.clientId, p.username);
    const sha256 = createHmac("sha256", secret)
      .update(`clientIdprod1&dev3deviceNamedev3productKeyprod1timestamp${c.timestamp}`)
      .digest("hex");
    assert.equal(authenticateAliyun(c, bytes(sha256), secret).ok, false);
  });

  it("uses the custom client id the SDK was given in the signed text", () => {
    const p = sdkConnect({ clientId: "my-own-id", brokerUrl: "mqtts://127.0.0.1:8883" });
    assert.match(p.clientId, /^my-own-id\|securemode=2,/);
    const c = credentials(p.clientId, p.username);
    assert.equal(c.id, "my-own-id");
    assert.equal(authenticateAliyun(c, bytes(p.password), secret).ok, true);
  });

  it("refuses a wrong secret, a one-character change and a password of another length", () => {
    const p = sdkConnect({});
    const c = credentials(p.clientId, p.username);
    assert.equal(authenticateAliyun(c, bytes(p.password), "c2VjcmV1").ok, false);
    const flipped = (p.password[0] === "a" ? "b" : "a") + p.password.slice(1);
    assert.equal(authenticateAliyun(c, bytes(flipped), secret).ok, false);
    assert.equal(
      authenticateAliyun(c, bytes(p.password.toUpperCase()), secret).ok,
      p.password === p.password.toUpperCase(),
    );
    assert.equal(authenticateAliyun(c, bytes(p.password.slice(1)), secret).ok, false);
    assert.equal(authenticateAliyun(c, bytes(`${p.password}0`), secret).ok, false);
    assert.equal(authenticateAliyun(c, new Uint8Array(0), secret).ok, false);
  });

  it("refuses a sign made for another device or product (the identity is in the signed text)", () => {
    const p = sdkConnect({});
    const other = credentials(p.clientId, "dev4&prod1");
    assert.equal(authenticateAliyun(other, bytes(p.password), secret).ok, false);
    const foreign = credentials(p.clientId, "dev3&prod2");
    assert.equal(authenticateAliyun(foreign, bytes(p.password), secret).ok, false);
  });

  it("reads the username before the first '?' and names the identity from it", () => {
    const p = sdkConnect({});
    const c = credentials(p.clientId, `${p.username}?SDK=x&v=1`);
    assert.deepEqual(c.identity, { productId: "prod1", deviceName: "dev3" });
    assert.equal(authenticateAliyun(c, bytes(p.password), secret).ok, true);
  });

  it("leaves a client id without a |…| block to other dialects", () => {
    assert.equal(recogniseAliyun("dev3", "prod1"), undefined);
    assert.equal(recogniseAliyun("a|b", "dev3&prod1"), undefined);
    assert.equal(recogniseAliyun("|", "dev3&prod1"), undefined);
    assert.equal(aliyunDialect.recognise("dev3", "prod1"), undefined);
  });

  it("refuses signmethods the SDK does not send and malformed parameters", () => {
    const base = "prod1&dev3|securemode=3,signmethod=hmacsha1,timestamp=1796279698974|";
    assert.equal(credentials(base, "dev3&prod1").timestamp, "1796279698974");
    const u = "dev3&prod1";
    assert.match(refusal(base.replace("hmacsha1", "hmacmd5"), u), /signmethod/);
    assert.match(refusal(base.replace("hmacsha1", "HMACSHA1"), u), /signmethod/);
    assert.match(refusal(base.replace("signmethod=hmacsha1,", ""), u), /signmethod/);
    assert.match(refusal(base.replace("securemode=3", "securemode=-2"), u), /securemode/);
    assert.match(refusal(base.replace("timestamp=1796279698974", "timestamp=17x"), u), /timestamp/);
    assert.match(refusal(base.replace(",timestamp=1796279698974", ""), u), /timestamp/);
    assert.match(
      refusal(base.replace("timestamp=1796279698974", "timestamp=12345678901234567"), u),
      /timestamp/,
    );
    assert.match(refusal(`${base.slice(0, -1)},timestamp=1|`, u), /repeats/);
    assert.match(refusal(base.replace("securemode=3,", "securemode,"), u), /key=value/);
    assert.match(refusal(`|${base.slice(base.indexOf("|") + 1)}`, u), /no id/);
  });

  it("refuses usernames not of the form {deviceName}&{productKey} with valid names", () => {
    const base = "prod1&dev3|securemode=3,signmethod=hmacsha1,timestamp=1|";
    for (const u of ["dev3", "dev3&prod1&x", "&prod1", "dev3&", "de/v3&prod1", "dev3&pr+od1", ""])
      assert.ok(refusal(base, u).length > 0, u);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseOneNetToken, signOneNetToken, verifyOneNetToken } from "../src/index.js";

// Key and signatures computed independently with `openssl dgst -mac HMAC`.
const key = "dW1icmEtdGVzdC1kZXZpY2Uta2V5LTAxMjM0NTY3ODk=";
const device = { productId: "p1", deviceName: "d1" };
const et = 1893456000;

describe("OneNET device token", () => {
  it("signs as SPEC §2.1 says: base64 HMAC of et, method, res, version, each URL-encoded", () => {
    assert.equal(
      signOneNetToken(device, { key, expiresAt: et, method: "sha256" }),
      "version=2018-10-31&res=products%2Fp1%2Fdevices%2Fd1&et=1893456000&method=sha256" +
        `&sign=${encodeURIComponent("FKiCwLWYYLnEL5CABCsNye+hI6EMzrceG8F37dCFuoE=")}`,
    );
    assert.match(
      signOneNetToken(device, { key, expiresAt: et, method: "md5" }),
      new RegExp(`sign=${encodeURIComponent("xoOwGBq+CMsiOdSQWyf9Tw==").replace(/[+]/g, "\\+")}$`),
    );
  });

  it("accepts a token it signed, for every method", () => {
    for (const method of ["md5", "sha1", "sha256"] as const) {
      const token = signOneNetToken(device, { key, expiresAt: et, method });
      assert.equal(verifyOneNetToken(token, device, key, et - 1), undefined, method);
    }
  });

  it("refuses an expired token, another device's token, a wrong key and a forged sign", () => {
    const token = signOneNetToken(device, { key, expiresAt: et });
    assert.equal(verifyOneNetToken(token, device, key, et + 1), "expired");
    assert.equal(
      verifyOneNetToken(token, { productId: "p1", deviceName: "d2" }, key, et - 1),
      "wrong-resource",
    );
    const otherKey = Buffer.from("another key entirely").toString("base64");
    assert.equal(verifyOneNetToken(token, device, otherKey, et - 1), "bad-signature");
    const forged = token.replace(/sign=[^&]*/, `sign=${encodeURIComponent("AAAA")}`);
    assert.equal(verifyOneNetToken(forged, device, key, et - 1), "bad-signature");
  });

  it("refuses malformed tokens and other versions", () => {
    for (const bad of ["", "nonsense", "version=2018-10-31&res=x", "a=b&&c"])
      assert.equal(verifyOneNetToken(bad, device, key, 0), "malformed", bad);
    const token = signOneNetToken(device, { key, expiresAt: et });
    assert.equal(
      verifyOneNetToken(token.replace("2018-10-31", "2020-01-01"), device, key, 0),
      "unsupported-version",
    );
    assert.equal(parseOneNetToken(token.replace("method=sha256", "method=sha512")), undefined);
  });
});

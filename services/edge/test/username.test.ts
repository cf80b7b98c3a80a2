import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { usernameIdentity } from "../src/certificateAuth.js";

describe("usernameIdentity", () => {
  it("is the part before the first '?': SDK metadata after it is ignored", () => {
    assert.equal(usernameIdentity("p1"), "p1");
    assert.equal(
      usernameIdentity("p1?SDK=IoTDeviceSDK/JS&Platform=Unix&Metadata=(CRTVersion=1.33.1)"),
      "p1",
    );
    assert.equal(usernameIdentity("p1?a?b"), "p1");
    assert.equal(usernameIdentity("?SDK=JavaScript&Version=2.2.16"), "");
    assert.equal(usernameIdentity(""), "");
    assert.equal(usernameIdentity(undefined), undefined);
  });
});

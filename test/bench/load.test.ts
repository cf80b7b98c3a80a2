import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeJson, oneNetUpdateAccepted } from "@umbra/core";
import { versionOf } from "./load.js";

describe("the load tool's version check", () => {
  it("reads the top-level version of an update/accepted answer", () => {
    const applied = { reported: { version: 3, temperature: 21.5 } };
    const body = encodeJson(oneNetUpdateAccepted(applied, 1234, 1_700_000_000_000));
    assert.equal(versionOf(Buffer.from(body)), 1234);
  });

  it("finds no version in an answer without one", () => {
    assert.equal(versionOf(Buffer.from('{"state":{}}')), undefined);
    assert.equal(versionOf(Buffer.from('{"a":1,"version":}')), undefined);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeJson, oneNetUpdateAccepted } from "@umbra/core";
import { azureVersionOf, payloadFor, versionOf } from "./load.js";

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

describe("the load tool's Azure twin answers", () => {
  it("reads the reported $version of a 204 answer's topic", () => {
    assert.equal(azureVersionOf("$iothub/twin/res/204/?$rid=17&$version=42"), 42);
  });

  it("finds no version in a topic without one or with a bad one", () => {
    assert.equal(azureVersionOf("$iothub/twin/res/204/?$rid=17"), undefined);
    assert.equal(azureVersionOf("$iothub/twin/res/204/?$rid=17&$version="), undefined);
    assert.equal(azureVersionOf("$iothub/twin/res/204/?$rid=17&$version=4x"), undefined);
  });

  it("sends the reported members bare, where OneNET and AWS wrap them in state.reported", () => {
    const azure = JSON.parse(payloadFor("azure")(3)) as Record<string, unknown>;
    const onenet = JSON.parse(payloadFor("onenet")(3)) as { state: { reported: unknown } };
    assert.deepEqual(onenet.state.reported, azure);
    assert.equal(azure.status, "ok");
  });
});

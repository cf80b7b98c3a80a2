import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultLimits } from "@umbra/core";
import {
  azureDialect,
  parseDeviceTopic,
  SESSION_DEVICE,
  subscribeVerdictOf,
} from "../src/index.js";

const own = (d: { productId: string; deviceName: string }) =>
  d.productId === "" && (d.deviceName === "" || d.deviceName === "dev1");
const bytes = (s: string) => new TextEncoder().encode(s);

describe("the Azure dialect in the registry", () => {
  it("reads twin and method topics as commands on the connection's own device, the $rid as token", () => {
    assert.deepEqual(parseDeviceTopic("$iothub/twin/GET/?$rid=7"), {
      kind: "command",
      dialect: "azure",
      device: SESSION_DEVICE,
      op: "get",
      token: "7",
    });
    const patch = parseDeviceTopic("$iothub/twin/PATCH/properties/reported/?$rid=x-1");
    assert.equal(patch?.kind === "command" && patch.op, "update");
    const result = parseDeviceTopic("$iothub/methods/res/404/?$rid=r1");
    assert.equal(result?.kind === "command" && result.token, "404/r1");
    assert.equal(parseDeviceTopic("$iothub/twin/GET/?$rid="), undefined, "no usable $rid");
    assert.equal(
      parseDeviceTopic("$iothub/twin/res/200/?$rid=1"),
      undefined,
      "the hub's own topic",
    );
  });

  it("reads telemetry with its property bag as telemetry of the named device", () => {
    assert.deepEqual(
      parseDeviceTopic("devices/dev1/messages/events/k=v&%24.ct=application%2Fjson"),
      {
        kind: "telemetry",
        device: { productId: "", deviceName: "dev1" },
        properties: { k: "v", "$.ct": "application/json" },
      },
    );
  });

  it("grants the SDK's filters for the own device and refuses the rest with 0x80", () => {
    assert.equal(subscribeVerdictOf("$iothub/twin/res/#", 1, own), 1);
    assert.equal(subscribeVerdictOf("$iothub/methods/POST/#", 0, own), 0);
    assert.equal(subscribeVerdictOf("devices/dev1/messages/devicebound/#", 1, own), 1);
    assert.equal(subscribeVerdictOf("devices/other/messages/devicebound/#", 1, own), 0x80);
    assert.equal(subscribeVerdictOf("$iothub/#", 1, own), 0x80);
  });

  it("refuses a command that lost its $rid, and an op Azure has no topic for", () => {
    const noRid = azureDialect.readCommand("get", new Uint8Array(), defaultLimits);
    assert.equal(noRid.ok, false);
    const del = azureDialect.readCommand("delete", bytes("{}"), defaultLimits, "1");
    assert.equal(!del.ok && del.error.clientToken, "1");
  });

  it("takes the model id of the username into the claim, and refuses one that is no DTMI", () => {
    const user = (model: string) =>
      `hub.azure-devices.net/dev1/?api-version=2021-04-12&model-id=${model}`;
    const claim = azureDialect.recognise("dev1", user("dtmi:com:example:Thermostat;1"));
    assert.equal(claim?.ok && claim.modelId, "dtmi:com:example:Thermostat;1");
    const plain = azureDialect.recognise(
      "dev1",
      "hub.azure-devices.net/dev1/?api-version=2021-04-12",
    );
    assert.equal(plain?.ok && plain.modelId, undefined);
    const bad = azureDialect.recognise("dev1", user("nope"));
    assert.equal(bad?.ok, false);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { azureModelIdOf, isDtmi, MAX_DTMI_LENGTH } from "../src/index.js";

const USER = "prod1.azure-devices.net/dev2/?api-version=2021-04-12";
const AGENT =
  "DeviceClientType=azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)";

describe("Azure model id", () => {
  it("reads the model id as the Node SDK sends it (captured, unencoded) and percent-encoded", () => {
    assert.equal(
      azureModelIdOf(`${USER}&model-id=dtmi:com:example:Thermostat;1&${AGENT}`),
      "dtmi:com:example:Thermostat;1",
    );
    assert.equal(
      azureModelIdOf(`${USER}&model-id=dtmi%3Acom%3Aexample%3ATemperatureController%3B2`),
      "dtmi:com:example:TemperatureController;2",
    );
  });

  it("is absent when the username names none", () => {
    assert.equal(azureModelIdOf(`${USER}&${AGENT}`), undefined);
    assert.equal(azureModelIdOf("prod1.azure-devices.net/dev2/"), undefined);
    assert.equal(azureModelIdOf(`${USER}&xmodel-id=dtmi:a;1`), undefined);
  });

  it("refuses a repeated, badly escaped or malformed model id", () => {
    for (const id of [
      "dtmi:a;1&model-id=dtmi:b;1",
      "%zz",
      "dtmi:a",
      "dtmi:a;0",
      "dtmi:1a;1",
      "dtmi:a_;1",
      "dtmi:a::b;1",
      "urn:a;1",
      "",
    ]) {
      const read = azureModelIdOf(`${USER}&model-id=${id}`);
      assert.ok(typeof read === "object" && read.problem.length > 0, id);
    }
  });

  it("bounds the model id's length", () => {
    const at = `dtmi:${"a".repeat(MAX_DTMI_LENGTH - 7)};1`;
    assert.equal(at.length, MAX_DTMI_LENGTH);
    assert.equal(isDtmi(at), true);
    assert.equal(isDtmi(`dtmi:${"a".repeat(MAX_DTMI_LENGTH - 6)};1`), false);
    assert.equal(azureModelIdOf(`${USER}&model-id=${at}`), at);
  });
});

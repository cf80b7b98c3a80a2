import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AZURE_SESSION_PRODUCT,
  azureDesiredPatchTopic,
  azureMethodCallTopic,
  azureSubscribeVerdict,
  azureTwinResponseTopic,
  type DeviceId,
  decodeAzurePropertyBag,
  encodeAzurePropertyBag,
  MAX_AZURE_METHOD_NAME_LENGTH,
  MAX_AZURE_RID_LENGTH,
  MAX_AZURE_TELEMETRY_PROPERTIES,
  MAX_AZURE_TOPIC_LENGTH,
  parseAzureTopic,
  SUBACK_FAILURE,
} from "../src/index.js";

const RID = "31faf641-ba4d-481c-b6fc-abd05cac69cf"; // captured (DIALECTS.md §2.2)
/** The session's check as the edge makes it: its device id, product left to the session. */
const mine = (d: DeviceId) => d.productId === AZURE_SESSION_PRODUCT && d.deviceName === "dev2";
const verdict = (filter: string, qos: 0 | 1 | 2 = 0) => azureSubscribeVerdict(filter, qos, mine);

describe("Azure topics: what a device publishes", () => {
  it("reads the twin GET and a reported patch with the rid as sent", () => {
    assert.deepEqual(parseAzureTopic(`$iothub/twin/GET/?$rid=${RID}`), {
      kind: "twin-get",
      rid: RID,
    });
    assert.deepEqual(parseAzureTopic(`$iothub/twin/PATCH/properties/reported/?$rid=${RID}`), {
      kind: "twin-reported",
      rid: RID,
    });
    // Byte for byte: percent escapes, `=` and odd spellings come back unchanged.
    for (const rid of ["1", "%41b", "a=b", "Ünï", "x".repeat(MAX_AZURE_RID_LENGTH)])
      assert.deepEqual(parseAzureTopic(`$iothub/twin/GET/?$rid=${rid}`), {
        kind: "twin-get",
        rid,
      });
    // Other query parameters are ignored, in any place.
    assert.deepEqual(parseAzureTopic("$iothub/twin/GET/?foo=1&$rid=7&bar"), {
      kind: "twin-get",
      rid: "7",
    });
  });

  it("reads a method result's status as an integer", () => {
    assert.deepEqual(parseAzureTopic("$iothub/methods/res/200/?$rid=1"), {
      kind: "method-response",
      rid: "1",
      status: 200,
    });
    assert.deepEqual(parseAzureTopic("$iothub/methods/res/404/?$rid=ab"), {
      kind: "method-response",
      rid: "ab",
      status: 404,
    });
    for (const bad of ["2x0", "", "-1", "1.5", "1234567890", "20 0"])
      assert.equal(parseAzureTopic(`$iothub/methods/res/${bad}/?$rid=1`), undefined, bad);
    assert.equal(parseAzureTopic("$iothub/methods/res/200?$rid=1"), undefined);
  });

  it("refuses a missing, empty, repeated, overlong or unusable rid", () => {
    for (const query of [
      "",
      "$rid=",
      "rid=1",
      "$rid=1&$rid=2",
      `$rid=${"x".repeat(MAX_AZURE_RID_LENGTH + 1)}`,
      "$rid=a b",
      "$rid=a/b",
      "$rid=a+b",
      "$rid=a#b",
      "$rid=a?b",
      "$rid=a\u0000",
    ])
      assert.equal(parseAzureTopic(`$iothub/twin/GET/?${query}`), undefined, query);
  });

  it("does not read the hub's own topics or anything else under $iothub/", () => {
    for (const topic of [
      `$iothub/twin/res/200/?$rid=${RID}`,
      "$iothub/twin/PATCH/properties/desired/?$version=3",
      "$iothub/methods/POST/reboot/?$rid=1",
      "$iothub/twin/GET?$rid=1",
      "$iothub/twin/GET/x/?$rid=1",
      "$iothub/twin/PATCH/properties/reported?$rid=1",
      "$iothub/other",
    ])
      assert.equal(parseAzureTopic(topic), undefined, topic);
  });

  it("reads telemetry and decodes its property bag as the SDK encodes it", () => {
    assert.deepEqual(parseAzureTopic("devices/dev2/messages/events/"), {
      kind: "telemetry",
      deviceId: "dev2",
      properties: {},
    });
    assert.deepEqual(parseAzureTopic("devices/dev2/messages/events"), {
      kind: "telemetry",
      deviceId: "dev2",
      properties: {},
    });
    // System properties by querystring.stringify, the application's by encodeURIComponent.
    const bag =
      "%24.mid=m%201&%24.ct=application%2Fjson&%24.ce=utf-8&temp%20alert=true&k=a%26b%3Dc";
    assert.deepEqual(parseAzureTopic(`devices/dev2/messages/events/${bag}`), {
      kind: "telemetry",
      deviceId: "dev2",
      properties: {
        "$.mid": "m 1",
        "$.ct": "application/json",
        "$.ce": "utf-8",
        "temp alert": "true",
        k: "a&b=c",
      },
    });
    // A key alone is an empty value (querystring.parse); empty pairs are skipped.
    assert.deepEqual(decodeAzurePropertyBag("flag&&x=1"), { flag: "", x: "1" });
    const round = { "$.cid": "c/1", "ü ber": "x+y=z&w", __proto__: "kept" };
    const decoded = decodeAzurePropertyBag(
      encodeAzurePropertyBag(JSON.parse(JSON.stringify(round))),
    );
    assert.deepEqual(Object.keys(decoded ?? {}), ["$.cid", "ü ber"]);
    const own = decodeAzurePropertyBag("__proto__=p");
    assert.equal(Object.getPrototypeOf(own), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(own, "__proto__")?.value, "p");
  });

  it("refuses a bad bag, a module's or malformed telemetry topic, and past the bounds", () => {
    for (const topic of [
      "devices/dev2/messages/events/%zz=1",
      "devices/dev2/messages/events/=1",
      "devices/dev2/messages/events/a=1/b",
      "devices/dev2/messages/eventsX",
      "devices/dev2/modules/m1/messages/events/",
      "devices//messages/events/",
      "devices/dev2",
      "devices/dev2/messages/devicebound/",
    ])
      assert.equal(parseAzureTopic(topic), undefined, topic);
    const pairs = (n: number) => Array.from({ length: n }, (_, i) => `p${i}=1`).join("&");
    const at = parseAzureTopic(
      `devices/dev2/messages/events/${pairs(MAX_AZURE_TELEMETRY_PROPERTIES)}`,
    );
    assert.equal(at?.kind === "telemetry" && Object.keys(at.properties).length, 64);
    assert.equal(
      parseAzureTopic(`devices/dev2/messages/events/${pairs(MAX_AZURE_TELEMETRY_PROPERTIES + 1)}`),
      undefined,
    );
    const base = "devices/dev2/messages/events/k=";
    const fits = base + "v".repeat(MAX_AZURE_TOPIC_LENGTH - base.length);
    assert.equal(parseAzureTopic(fits)?.kind, "telemetry");
    assert.equal(parseAzureTopic(`${fits}v`), undefined);
  });
});

describe("Azure topics: what the hub sends", () => {
  it("builds the twin answers, the desired push and the method call", () => {
    assert.equal(azureTwinResponseTopic(200, "1"), "$iothub/twin/res/200/?$rid=1");
    assert.equal(
      azureTwinResponseTopic(204, RID, 6),
      `$iothub/twin/res/204/?$rid=${RID}&$version=6`,
    );
    assert.equal(azureDesiredPatchTopic(8), "$iothub/twin/PATCH/properties/desired/?$version=8");
    assert.equal(azureMethodCallTopic("reboot", "1"), "$iothub/methods/POST/reboot/?$rid=1");
    assert.equal(
      azureMethodCallTopic("thermostat1*getMaxMinReport", "r-2"),
      "$iothub/methods/POST/thermostat1*getMaxMinReport/?$rid=r-2",
    );
    const longest = "m".repeat(MAX_AZURE_METHOD_NAME_LENGTH);
    assert.equal(azureMethodCallTopic(longest, "1"), `$iothub/methods/POST/${longest}/?$rid=1`);
    for (const name of ["", "a/b", "a+b", "a#", "a?b", "a b", `${longest}m`])
      assert.equal(azureMethodCallTopic(name, "1"), undefined, name);
    assert.equal(azureMethodCallTopic("reboot", "a&b"), undefined);
  });

  it("answers a rid read from a request with the same bytes", () => {
    for (const rid of [RID, "%41b", "a=b", "Ünï"]) {
      const read = parseAzureTopic(`$iothub/twin/PATCH/properties/reported/?$rid=${rid}`);
      assert.ok(read !== undefined && read.kind === "twin-reported");
      const answer = azureTwinResponseTopic(204, read.rid, 2);
      assert.equal(new URLSearchParams(answer.split("?")[1]).get("$rid"), decodeURIComponent(rid));
      assert.ok(answer.includes(`?$rid=${rid}&`));
    }
  });
});

describe("Azure SUBACK verdicts", () => {
  it("grants the filters the SDK subscribes, at QoS 1 at most", () => {
    for (const filter of [
      "$iothub/twin/res/#",
      "$iothub/twin/PATCH/properties/desired/#",
      "$iothub/methods/POST/#",
    ]) {
      assert.equal(verdict(filter, 0), 0, filter);
      assert.equal(verdict(filter, 1), 1, filter);
      assert.equal(verdict(filter, 2), 1, filter);
    }
    assert.equal(verdict("devices/dev2/messages/devicebound/#", 1), 1);
    assert.equal(verdict("devices/dev2/messages/devicebound/#", 2), 1);
  });

  it("refuses anything else under $iothub/ and other devices' topics with 0x80", () => {
    for (const filter of [
      "$iothub/#",
      "$iothub/+/res/#",
      "$iothub/twin/#",
      "$iothub/twin/res/+",
      "$iothub/twin/res/200/#",
      "$iothub/twin/GET/#",
      "$iothub/twin/PATCH/properties/reported/#",
      "$iothub/methods/res/#",
      "$iothub/methods/POST/reboot/#",
      "devices/other/messages/devicebound/#",
      "devices/+/messages/devicebound/#",
      "devices/#",
      "devices/dev2/#",
      "devices/dev2/messages/events/#",
      "devices/dev2/messages/devicebound/+",
      "devices/dev2/modules/m/messages/devicebound/#",
    ])
      assert.equal(verdict(filter), SUBACK_FAILURE, filter);
  });

  it("leaves other dialects' filters to them", () => {
    for (const filter of [
      "$aws/things/t/shadow/#",
      "/sys/pk/dn/#",
      "$sys/p/d/#",
      "#",
      "devicesX/a",
    ])
      assert.equal(verdict(filter), undefined, filter);
  });
});

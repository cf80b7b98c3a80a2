/**
 * The digital twin over the HTTP API (seed 004): GET in the Plug and Play shape, PATCH
 * with JSON Patch add / replace / remove of components and properties, every rule of
 * the seed and its error message, device acks in $metadata. Shard, reply, edge and api
 * as four processes on NATS and Redis of the test's own.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type HttpAnswer,
  type httpClient,
  startApiCluster,
  TestDevice,
} from "../src/harness.js";

const KEY = "twin-admin-key-0123456789";
const JSON_PATCH = "application/json-patch+json";
const seedError = (name: string) =>
  `ErrorCode:ArgumentInvalid;'${name}' exists within the device twin and is not digital twin conformant property. Please refer to aka.ms/dtpatch to update this to be conformant.`;

let cluster: ApiCluster;
let mqttUrl: string;
let http: ReturnType<typeof httpClient>;

type Twin = Record<string, unknown> & { $metadata: Record<string, unknown> };

const twinPath = (dn: string) => `/v1/products/pt/devices/${dn}/twin`;
const patch = (dn: string, operations: unknown, headers: Record<string, string> = {}) =>
  http("PATCH", twinPath(dn), { key: KEY, type: JSON_PATCH, body: operations, headers });
const getTwin = async (dn: string): Promise<Twin> => {
  const got = await http("GET", twinPath(dn), { key: KEY });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.body as Twin;
};
const device = async (dn: string) => {
  const made = await http("POST", "/v1/products/pt/devices", { key: KEY, body: { name: dn } });
  assert.equal(made.status, 201);
  const token = await http("POST", `/v1/products/pt/devices/${dn}/token`, { key: KEY, body: {} });
  return { productId: "pt", deviceName: dn, token: (token.body as { token: string }).token };
};
const refused = (answer: HttpAnswer, detail: string | RegExp) => {
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  const p = answer.body as { detail: string; type: string };
  if (typeof detail === "string") assert.equal(p.detail, detail);
  else assert.match(p.detail, detail);
};

before(async () => {
  cluster = await startApiCluster({ apiKeys: `${KEY}=*`, adminKey: KEY, products: ["pt"] });
  mqttUrl = cluster.mqttUrls[0] as string;
  http = cluster.http[0] as ReturnType<typeof httpClient>;
});

after(async () => {
  await cluster?.stop();
});

describe("HTTP API: digital twin (seed 004)", () => {
  it("adds a component property; the device gets the delta, its ack shows in $metadata", async () => {
    const d = await device("thermo");
    const mqtt = await TestDevice.connect(mqttUrl, d, { subscribe: ["$sys/pt/thermo/image/#"] });
    const added = await patch("thermo", [
      { op: "add", path: "/thermostat1", value: { targetTemperature: 20.4, $metadata: {} } },
    ]);
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.headers.get("etag"), '"1"');
    const delta = (await mqtt.next("image/update/delta")).body as { state: unknown };
    assert.deepEqual(delta.state, { thermostat1: { targetTemperature: 20.4 } });

    // The seed's example: add /thermostat1/targetTemperature → desiredValue and version.
    const changed = await patch("thermo", [
      { op: "add", path: "/thermostat1/targetTemperature", value: 21.4 },
    ]);
    assert.equal(changed.status, 200);
    const twin = changed.body as Twin;
    const component = twin.thermostat1 as { $metadata: Record<string, Record<string, unknown>> };
    assert.equal(component.$metadata.targetTemperature?.desiredValue, 21.4);
    assert.equal(component.$metadata.targetTemperature?.desiredVersion, 2);
    assert.equal(twin.$dtId, "thermo");

    // The device acknowledges the writable property (Plug and Play convention).
    await mqtt.client.publishAsync(
      "$sys/pt/thermo/image/update",
      JSON.stringify({
        state: {
          reported: {
            thermostat1: {
              __t: "c",
              targetTemperature: { value: 21.4, ac: 200, av: 2, ad: "Successfully executed patch" },
            },
          },
        },
      }),
    );
    await mqtt.next("image/update/accepted");
    const acked = await getTwin("thermo");
    const meta = (acked.thermostat1 as { $metadata: Record<string, Record<string, unknown>> })
      .$metadata.targetTemperature as Record<string, unknown>;
    assert.equal((acked.thermostat1 as Record<string, unknown>).targetTemperature, 21.4);
    assert.equal(meta.desiredValue, 21.4);
    assert.equal(meta.ackCode, 200);
    assert.equal(meta.ackVersion, 2);
    assert.equal(meta.ackDescription, "Successfully executed patch");
    assert.match(String(meta.lastUpdateTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    await mqtt.close();
  });

  it("replaces a component (clearing properties not given) and removes components", async () => {
    await device("multi");
    const first = await patch("multi", [
      {
        op: "add",
        path: "/thermostat1",
        value: { targetTemperature: 21.4, anotherWritableProperty: 42, $metadata: {} },
      },
      { op: "add", path: "/thermostat2", value: { targetTemperature: 18, $metadata: {} } },
    ]);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replaced = await patch("multi", [
      { op: "replace", path: "/thermostat1", value: { targetTemperature: 22, $metadata: {} } },
      { op: "remove", path: "/thermostat2" },
    ]);
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    const shadow = await http("GET", "/v1/products/pt/devices/multi/shadow", { key: KEY });
    assert.deepEqual((shadow.body as { desired: unknown }).desired, {
      thermostat1: { targetTemperature: 22 },
    });
    const twin = await getTwin("multi");
    assert.equal("thermostat2" in twin, false);
    const meta = (twin.thermostat1 as { $metadata: Record<string, unknown> }).$metadata;
    assert.deepEqual(Object.keys(meta), ["targetTemperature"]);
  });

  it("adds, replaces and removes properties; removing the last one removes the component", async () => {
    await device("props");
    assert.equal(
      (
        await patch("props", [
          { op: "add", path: "/thermostat1/targetTemperature", value: 21.4 },
          { op: "add", path: "/serialNumber", value: "alwinexlepaho8329" },
        ])
      ).status,
      200,
    );
    assert.equal(
      (await patch("props", [{ op: "replace", path: "/thermostat1/targetTemperature", value: 19 }]))
        .status,
      200,
    );
    let twin = await getTwin("props");
    assert.equal(
      (twin.$metadata.serialNumber as Record<string, unknown>).desiredValue,
      "alwinexlepaho8329",
    );
    assert.equal(
      ((twin.thermostat1 as Twin).$metadata.targetTemperature as Record<string, unknown>)
        .desiredValue,
      19,
    );
    const removed = await patch("props", [
      { op: "remove", path: "/thermostat1/targetTemperature" },
    ]);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    twin = await getTwin("props");
    assert.equal("thermostat1" in twin, false);
    assert.equal("serialNumber" in twin.$metadata, true);
  });

  it("refuses every non-conformant patch with the seed's message, changing nothing", async () => {
    await device("rules");
    const ok = await patch("rules", [{ op: "add", path: "/c1/p", value: 1 }]);
    assert.equal(ok.status, 200);
    const version = ok.headers.get("etag");
    const deep = (n: number): unknown => (n === 0 ? 1 : { level: deep(n - 1) });
    // Names: letters, digits and underscores; not starting with a digit or an underscore,
    // not ending with an underscore; 1–64 characters.
    refused(
      await patch("rules", [{ op: "add", path: "/c1/9lives", value: 1 }]),
      seedError("9lives"),
    );
    refused(await patch("rules", [{ op: "add", path: "/c1/_p", value: 1 }]), seedError("_p"));
    refused(await patch("rules", [{ op: "add", path: "/c1/p_", value: 1 }]), seedError("p_"));
    refused(await patch("rules", [{ op: "add", path: "/c1/a-b", value: 1 }]), seedError("a-b"));
    const long = "p".repeat(65);
    refused(await patch("rules", [{ op: "add", path: `/c1/${long}`, value: 1 }]), seedError(long));
    assert.equal(
      (await patch("rules", [{ op: "add", path: `/c1/${"p".repeat(64)}`, value: 1 }])).status,
      200,
    );
    // Values: no arrays (nor inside objects), at most five levels, field names DTDL too.
    refused(await patch("rules", [{ op: "add", path: "/c1/p", value: [1, 2] }]), seedError("p"));
    refused(
      await patch("rules", [{ op: "add", path: "/c1/p", value: { list: [1] } }]),
      seedError("p"),
    );
    assert.equal(
      (await patch("rules", [{ op: "add", path: "/c1/p", value: deep(5) }])).status,
      200,
    );
    refused(await patch("rules", [{ op: "add", path: "/c1/p", value: deep(6) }]), seedError("p"));
    refused(
      await patch("rules", [{ op: "add", path: "/c1/p", value: { "bad-field": 1 } }]),
      seedError("p"),
    );
    // Component operations need the empty "$metadata" marker.
    refused(
      await patch("rules", [{ op: "replace", path: "/c1", value: { p: 2 } }]),
      /"\$metadata": \{\} marker/,
    );
    refused(
      await patch("rules", [{ op: "add", path: "/c1", value: { p: 2, $metadata: { x: 1 } } }]),
      /marker must be \{\}/,
    );
    // Not JSON Patch: a wrong op, a missing value, an empty patch, another content type.
    refused(await patch("rules", [{ op: "move", path: "/c1/p", from: "/c1/q" }]), /op|from/);
    refused(await patch("rules", [{ op: "add", path: "/c1/p" }]), /needs a value/);
    refused(await patch("rules", []), /at least 1|non-empty/);
    const wrongType = await http("PATCH", twinPath("rules"), {
      key: KEY,
      type: "application/json",
      body: [{ op: "add", path: "/c1/p", value: 1 }],
    });
    assert.equal(wrongType.status, 415);
    // One bad operation refuses the whole patch.
    refused(
      await patch("rules", [
        { op: "add", path: "/c1/q", value: 1 },
        { op: "add", path: "/c1/_bad", value: 1 },
      ]),
      seedError("_bad"),
    );
    const after = await http("GET", twinPath("rules"), { key: KEY });
    assert.equal(after.headers.get("etag"), `"${Number(JSON.parse(version as string)) + 2}"`);
    assert.equal("q" in ((after.body as Twin).c1 as Twin), false);
    // If-Match applies to twin patches too.
    const stale = await patch("rules", [{ op: "add", path: "/c1/q", value: 1 }], {
      "if-match": version as string,
    });
    assert.equal(stale.status, 412);
  });
});

/**
 * Azure IoT Hub topics at the edge's protocol layer, with raw clients connecting as
 * Azure's SDK does against a recording backend: `$iothub/…` names no device and is the
 * session's own, its `$rid` the request's token; telemetry `devices/{id}/messages/events/…`
 * must name the session's device id and reaches the backend with its property bag; the
 * model id a CONNECT names comes with the session.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import type { Packet } from "mqtt-packet";
import {
  assertForeignPublishRefused,
  azureUsername,
  connectDevice,
  type Edge,
  PRODUCT,
  RawClient,
  startEdge,
  versionName,
} from "./helpers.js";

const MODEL = "dtmi:com:example:Thermostat;1";
const d1 = { productId: PRODUCT, deviceName: "d1" };

/** A raw client connected as Azure's SDK does: client id = deviceId, clean=false. */
const azureClient = async (
  t: TestContext,
  edge: Edge,
  deviceId: string,
  version: 4 | 5 = 4,
): Promise<RawClient> => {
  const client = await RawClient.open(t, edge, version);
  client.send(client.connectPacket(deviceId, { username: azureUsername(deviceId), clean: false }));
  const connack = await client.next();
  assert.equal(connack.cmd, "connack");
  assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0, "accepted");
  return client;
};

const publish = (topic: string, payload: string, qos: 0 | 1, messageId = 1): Packet =>
  qos === 0
    ? { cmd: "publish", topic, payload: Buffer.from(payload), qos, dup: false, retain: false }
    : {
        cmd: "publish",
        topic,
        payload: Buffer.from(payload),
        qos,
        messageId,
        dup: false,
        retain: false,
      };

describe("an Azure twin or method topic", () => {
  it("is the session's own device, its $rid (or a method result's status and rid) the request's token", async (t) => {
    const edge = await startEdge(t);
    const client = await azureClient(t, edge, "d1");
    client.send(publish("$iothub/twin/GET/?$rid=0b5c", " ", 0));
    client.send(publish("$iothub/twin/PATCH/properties/reported/?$rid=31fa", '{"on":1}', 0));
    client.send(publish("$iothub/methods/res/200/?$rid=7", '{"ok":true}', 0));
    await edge.backend.until(() => edge.backend.publishes.length === 3, "three publishes");
    assert.deepEqual(
      edge.backend.publishes.map(({ request }) => request),
      [
        { kind: "command", dialect: "azure", device: d1, op: "get", token: "0b5c" },
        { kind: "command", dialect: "azure", device: d1, op: "update", token: "31fa" },
        { kind: "command", dialect: "azure", device: d1, op: "request", token: "200/7" },
      ],
    );
  });
});

describe("Azure telemetry", () => {
  it("of the session's own device id reaches the backend with its property bag; QoS 1 is PUBACKed once the backend has it", async (t) => {
    const edge = await startEdge(t);
    edge.backend.autoAck = false;
    const client = await azureClient(t, edge, "d1");
    client.send(
      publish(
        "devices/d1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&alert=high",
        '{"t":21.5}',
        1,
        5,
      ),
    );
    await edge.backend.until(() => edge.backend.publishes.length === 1, "the telemetry");
    const [call] = edge.backend.publishes;
    assert.deepEqual(call?.request, {
      kind: "telemetry",
      device: d1,
      properties: { "$.ct": "application/json", "$.ce": "utf-8", alert: "high" },
    });
    assert.equal(call?.payload.toString(), '{"t":21.5}');
    // Nothing acknowledged before the backend says so: a ping comes back first.
    await client.ping();
    call?.settle(true);
    const puback = await client.next();
    assert.equal(puback.cmd, "puback");
    assert.equal(puback.messageId, 5);
  });

  for (const version of [4, 5] as const) {
    it(`naming another device id is refused as any foreign topic: nothing to the backend; ${version === 5 ? "DISCONNECT 0x87" : "PUBACKed, the session stays"} (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await azureClient(t, edge, "d1", version);
      client.send(publish("devices/d2/messages/events/", '{"t":1}', 1, 3));
      await assertForeignPublishRefused(client, version, 3);
      assert.equal(edge.backend.publishes.length, 0);
    });
  }
});

describe("an Azure CONNECT's model id", () => {
  it("comes with the session the backend opens, beside the dialect", async (t) => {
    const edge = await startEdge(t);
    await connectDevice(t, edge, "d1", {
      username: azureUsername("d1", `api-version=2021-04-12&model-id=${MODEL}`),
    });
    const session = edge.backend.sessionOf("d1");
    assert.equal(session.dialect, "azure");
    assert.equal(session.modelId, MODEL);
    await connectDevice(t, edge, "d2", { username: azureUsername("d2") });
    assert.equal(edge.backend.sessionOf("d2").modelId, undefined);
  });
});

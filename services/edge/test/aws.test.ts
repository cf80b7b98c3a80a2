/**
 * AWS IoT shadow topics at the edge's protocol layer, with mqtt.js and raw clients
 * against a recording backend: a request names its thing but no product, so it is the
 * session's own device; another thing's topics are refused like any foreign topic; the
 * SDKs' subscriptions (v1's seven filters at QoS 0, v2's `+` filters at QoS 1) are
 * granted and can be taken back.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ISubackPacket, Packet } from "mqtt-packet";
import { Reason, SUBACK_FAILURE } from "../src/index.js";
import {
  assertForeignPublishRefused,
  connectDevice,
  PRODUCT,
  RawClient,
  startEdge,
  versionName,
} from "./helpers.js";

const P = "$aws/things/d1/shadow";
const NAMED = `${P}/name/fan`;

/** What `thingShadow.register` of aws-iot-device-sdk v1 subscribes, in one SUBSCRIBE. */
const V1_FILTERS = [
  `${P}/update/delta`,
  `${P}/update/accepted`,
  `${P}/update/rejected`,
  `${P}/get/accepted`,
  `${P}/get/rejected`,
  `${P}/delete/accepted`,
  `${P}/delete/rejected`,
];

const grantedOf = (packet: Packet): number[] => {
  assert.equal(packet.cmd, "suback");
  return (packet as ISubackPacket).granted as number[];
};

describe("an AWS shadow request", () => {
  it("is the session's own device: its product filled in, op and named shadow as the topic says", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    await client.publishAsync(`${P}/update`, '{"state":{"reported":{"on":1}}}', { qos: 1 });
    await client.publishAsync(`${NAMED}/delete`, "", { qos: 1 });
    await client.publishAsync(`${NAMED}/get`, '{"clientToken":"c"}', { qos: 0 });
    await edge.backend.until(() => edge.backend.publishes.length === 3, "three publishes");
    assert.deepEqual(
      edge.backend.publishes.map((call) => call.request),
      [
        {
          kind: "command",
          dialect: "aws",
          device: { productId: PRODUCT, deviceName: "d1" },
          op: "update",
          shadow: undefined,
        },
        {
          kind: "command",
          dialect: "aws",
          device: { productId: PRODUCT, deviceName: "d1" },
          op: "delete",
          shadow: "fan",
        },
        {
          kind: "command",
          dialect: "aws",
          device: { productId: PRODUCT, deviceName: "d1" },
          op: "get",
          shadow: "fan",
        },
      ],
    );
  });

  for (const version of [4, 5] as const) {
    it(`for another thing is refused as any foreign topic: nothing sent; ${version === 5 ? "DISCONNECT 0x87" : "PUBACKed, the session stays"} (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      client.send({
        cmd: "publish",
        topic: "$aws/things/d2/shadow/update",
        payload: Buffer.from('{"state":{}}'),
        qos: 1,
        messageId: 3,
        dup: false,
        retain: false,
      });
      await assertForeignPublishRefused(client, version, 3);
      assert.equal(edge.backend.publishes.length, 0);
    });
  }

  it("for a gateway's sub-device is refused: AWS topics address the session's own thing only", async (t) => {
    const edge = await startEdge(t);
    edge.backend.subDevices.set(`${PRODUCT}/gw`, new Set([`${PRODUCT}/sub1`]));
    const client = await RawClient.connected(t, edge, "gw", 4);
    client.send({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [
        { topic: "$aws/things/sub1/shadow/update/accepted", qos: 0 },
        { topic: `$sys/${PRODUCT}/sub1/image/update/accepted`, qos: 0 },
      ],
    });
    assert.deepEqual(grantedOf(await client.next()), [SUBACK_FAILURE, 0]);
    client.send({
      cmd: "publish",
      topic: "$aws/things/sub1/shadow/update",
      payload: Buffer.from("{}"),
      qos: 1,
      messageId: 2,
      dup: false,
      retain: false,
    });
    assert.equal((await client.next()).cmd, "puback");
    assert.equal(edge.backend.publishes.length, 0);
  });
});

describe("AWS shadow subscriptions", () => {
  for (const version of [4, 5] as const) {
    const refused = version === 5 ? Reason.notAuthorized : SUBACK_FAILURE;

    it(`grants v1's seven filters in one SUBSCRIBE at QoS 0; another thing's and a wildcard thing are refused, no disconnect (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.connected(t, edge, "d1", version);
      client.send({
        cmd: "subscribe",
        messageId: 1,
        subscriptions: V1_FILTERS.map((topic) => ({ topic, qos: 0 as const })),
      });
      assert.deepEqual(grantedOf(await client.next()), [0, 0, 0, 0, 0, 0, 0]);
      const [subscribed] = edge.backend.subscribedCalls;
      assert.deepEqual(subscribed?.filters, V1_FILTERS);

      client.send({
        cmd: "subscribe",
        messageId: 2,
        subscriptions: [
          { topic: "$aws/things/d2/shadow/update/accepted", qos: 0 },
          { topic: "$aws/things/+/shadow/update/accepted", qos: 0 },
          { topic: "$aws/things/d2/shadow/#", qos: 1 },
          { topic: `${P}/update`, qos: 0 },
        ],
      });
      assert.deepEqual(grantedOf(await client.next()), [refused, refused, refused, refused]);
      await client.ping();
      assert.equal(edge.backend.subscribedCalls.length, 1);
    });
  }

  it("grants v2's `get/+` and `delete/+` asked at QoS 1, classic and named, at QoS 0; answers reach them until UNSUBSCRIBE (MQTT 5)", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1", 5);
    const filters = [`${P}/get/+`, `${P}/delete/+`, `${NAMED}/get/+`, `${NAMED}/delete/+`];
    client.send({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })),
    });
    assert.deepEqual(grantedOf(await client.next()), [0, 0, 0, 0]);
    const session = edge.backend.sessionOf("d1");
    for (const topic of [`${P}/get/accepted`, `${NAMED}/delete/rejected`]) {
      assert.equal(session.deliver(topic, Buffer.from("{}")), true);
      const delivered = await client.next();
      assert.equal(delivered.cmd === "publish" && delivered.topic, topic);
    }
    client.send({ cmd: "unsubscribe", messageId: 2, unsubscriptions: filters });
    const unsuback = await client.next();
    assert.equal(unsuback.cmd, "unsuback");
    if (unsuback.cmd === "unsuback")
      assert.deepEqual(unsuback.granted, [
        Reason.success,
        Reason.success,
        Reason.success,
        Reason.success,
      ]);
    assert.equal(session.deliver(`${P}/get/accepted`, Buffer.from("{}")), false);
    assert.equal(session.deliver(`${NAMED}/delete/rejected`, Buffer.from("{}")), false);
  });

  it("subscribes and unsubscribes v2's filters around a request with mqtt.js (MQTT 3.1.1)", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    const granted = await client.subscribeAsync([`${NAMED}/get/+`], { qos: 1 });
    assert.deepEqual(
      granted.map((g) => g.qos),
      [0],
    );
    const session = edge.backend.sessionOf("d1");
    assert.equal(session.deliver(`${NAMED}/get/accepted`, Buffer.from("{}")), true);
    await client.unsubscribeAsync(`${NAMED}/get/+`);
    assert.equal(session.deliver(`${NAMED}/get/accepted`, Buffer.from("{}")), false);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Packet } from "mqtt-packet";
import {
  type AuthRefusal,
  ConnectReturnCode,
  DEFAULT_EDGE_LIMITS,
  REFUSAL_CODES,
  Reason,
} from "../src/index.js";
import {
  connectDevice,
  nextEvent,
  PRODUCT,
  RawClient,
  startEdge,
  topicOf,
  versionName,
} from "./helpers.js";

const codeOf = (packet: Packet | undefined, version: 3 | 4 | 5): number | undefined => {
  assert.equal(packet?.cmd, "connack");
  if (packet?.cmd !== "connack") return undefined;
  return version === 5 ? packet.reasonCode : packet.returnCode;
};

describe("CONNECT", () => {
  it("accepts an MQTT 3.1.1 device and opens its session in the backend", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    await edge.backend.until(() => edge.backend.openedSessions.length === 1, "opened");
    const session = edge.backend.sessionOf("d1");
    assert.deepEqual(session.device, { productId: PRODUCT, deviceName: "d1" });
    assert.equal(session.deviceKey, `${PRODUCT}/d1`);
    assert.equal(session.protocolVersion, 4);
    assert.equal(edge.server.sessionCount, 1);

    await client.endAsync();
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
    assert.equal(edge.backend.closedSessions[0], session);
    assert.equal(edge.server.sessionCount, 0);
  });

  it("accepts MQTT 3.1 (MQIsdp, level 3)", async (t) => {
    const edge = await startEdge(t);
    await connectDevice(t, edge, "d1", { protocolVersion: 3 });
    assert.equal(edge.backend.sessionOf("d1").protocolVersion, 3);
  });

  it("accepts MQTT 5 and states the edge's limits and features in CONNACK", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge, 5);
    client.send(client.connectPacket("d1"));
    const connack = await client.next();
    assert.equal(connack.cmd, "connack");
    if (connack.cmd !== "connack") return;
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.sessionPresent, false);
    assert.deepEqual(connack.properties, {
      maximumPacketSize: DEFAULT_EDGE_LIMITS.maxPacketBytes,
      receiveMaximum: DEFAULT_EDGE_LIMITS.maxInflight,
      topicAliasMaximum: 0,
      retainAvailable: false,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: false,
      maximumQoS: 1,
    });

    await connectDevice(t, edge, "d2", { protocolVersion: 5 });
    assert.equal(edge.backend.sessionOf("d2").protocolVersion, 5);
  });

  const refusals: [AuthRefusal, string, string][] = [
    ["bad-credentials", "d1", "wrong-password"],
    ["not-authorized", "banned", "secret"],
    ["bad-client-id", "bad-id", "secret"],
    ["unavailable", "registry-down", "secret"],
  ];
  for (const version of [4, 5] as const) {
    for (const [refusal, clientId, password] of refusals) {
      const expected = version === 5 ? REFUSAL_CODES[refusal].v5 : REFUSAL_CODES[refusal].v3;
      const shown = version === 5 ? `0x${expected.toString(16)}` : String(expected);
      it(`refuses ${refusal} with ${shown} over ${versionName(version)} and closes`, async (t) => {
        const edge = await startEdge(t);
        const client = await RawClient.open(t, edge, version);
        client.send(client.connectPacket(clientId, { password: Buffer.from(password) }));
        const [connack, ...rest] = await client.closedAfter();
        assert.equal(codeOf(connack, version), expected);
        assert.deepEqual(rest, []);
        assert.equal(edge.backend.openedSessions.length, 0);
        assert.equal(edge.server.sessionCount, 0);
      });
    }

    it(`refuses an empty client id over ${versionName(version)} without asking the backend`, async (t) => {
      const edge = await startEdge(t);
      const client = await RawClient.open(t, edge, version);
      client.send(client.connectPacket(""));
      const [connack] = await client.closedAfter();
      assert.equal(
        codeOf(connack, version),
        version === 5 ? Reason.clientIdentifierNotValid : ConnectReturnCode.identifierRejected,
      );
      assert.equal(edge.backend.authenticateCalls, 0);
    });
  }

  it("a refused mqtt.js client sees the refusal code", async (t) => {
    const edge = await startEdge(t);
    await assert.rejects(connectDevice(t, edge, "banned"), { code: 5 });
    await assert.rejects(connectDevice(t, edge, "banned", { protocolVersion: 5 }), {
      code: Reason.notAuthorized,
    });
  });

  /** A v4 CONNECT with its protocol level byte replaced. */
  const connectAtLevel = (client: RawClient, level: number): Buffer => {
    const bytes = client.encode(client.connectPacket("d1"));
    // fixed header (2) + protocol name length (2) + "MQTT" (4)
    assert.equal(bytes.toString("latin1", 4, 8), "MQTT");
    bytes.writeUInt8(level, 8);
    return bytes;
  };

  it("refuses a protocol level above 5 with an MQTT 5 CONNACK 0x84", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge, 5);
    client.socket.write(connectAtLevel(client, 6));
    const [connack] = await client.closedAfter();
    assert.equal(codeOf(connack, 5), Reason.unsupportedProtocolVersion);
  });

  it("refuses an older unknown protocol level with 3.1.1 return code 1", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge, 4);
    client.socket.write(connectAtLevel(client, 2));
    const [connack] = await client.closedAfter();
    assert.equal(codeOf(connack, 4), ConnectReturnCode.unacceptableProtocolVersion);
  });

  it("closes a connection whose first packet is not CONNECT", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge);
    client.send({ cmd: "pingreq" });
    assert.deepEqual(await client.closedAfter(), []);
  });

  it("closes a connection that sends no CONNECT in time", async (t) => {
    const edge = await startEdge(t, { connectTimeoutMs: 100 });
    const client = await RawClient.open(t, edge);
    assert.deepEqual(await client.closedAfter(), []);
  });

  it("answers 'server unavailable' when authentication outlasts the connect timeout", async (t) => {
    const edge = await startEdge(t, { connectTimeoutMs: 100 });
    edge.backend.authGate = new Promise(() => {}); // never decides
    const client = await RawClient.open(t, edge);
    client.send(client.connectPacket("d1"));
    const [connack] = await client.closedAfter();
    assert.equal(codeOf(connack, 4), ConnectReturnCode.serverUnavailable);
    assert.equal(edge.backend.openedSessions.length, 0);
  });

  it("treats a second CONNECT as a protocol error", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    client.send(client.connectPacket("d1"));
    assert.deepEqual(await client.closedAfter(), []);
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
  });

  it("handles packets sent behind CONNECT only after CONNACK, in order", async (t) => {
    const edge = await startEdge(t);
    let admit: () => void = () => {};
    edge.backend.authGate = new Promise((resolve) => {
      admit = resolve;
    });
    const client = await RawClient.open(t, edge);
    const filter = topicOf("d1", "image/#");
    client.socket.write(
      Buffer.concat([
        client.encode(client.connectPacket("d1")),
        client.encode({
          cmd: "subscribe",
          messageId: 1,
          subscriptions: [{ topic: filter, qos: 0 }],
        }),
        client.encode({
          cmd: "publish",
          topic: topicOf("d1", "image/update"),
          payload: Buffer.from("{}"),
          qos: 0,
          dup: false,
          retain: false,
        }),
      ]),
    );
    await edge.backend.until(() => edge.backend.authenticateCalls === 1, "authenticate");
    // Had the edge read past CONNECT, it would have published in the same turn.
    assert.equal(edge.backend.publishes.length, 0);

    admit();
    assert.equal((await client.next()).cmd, "connack");
    const suback = await client.next();
    assert.equal(suback.cmd, "suback");
    await edge.backend.until(() => edge.backend.publishes.length === 1, "the publish");
    assert.equal(
      edge.backend.sessionOf("d1").deliver(topicOf("d1", "image/get/accepted"), Buffer.from("x")),
      true,
    );
  });

  it("accepts a will and never publishes it", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge);
    client.send(
      client.connectPacket("d1", {
        will: {
          topic: topicOf("d1", "image/update"),
          payload: Buffer.from("bye"),
          qos: 0,
          retain: false,
        },
      }),
    );
    assert.equal((await client.next()).cmd, "connack");
    client.socket.destroy();
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
    assert.equal(edge.backend.publishes.length, 0);
  });

  it("calls backend.closed exactly once per opened session", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1");
    const session = edge.backend.sessionOf("d1");
    session.close(Reason.notAuthorized, "revoked"); // server side, then the socket closes too
    await nextEvent(client, "close");
    await edge.backend.until(() => edge.backend.closedSessions.length >= 1, "closed");
    const second = await connectDevice(t, edge, "d2");
    await second.endAsync();
    await edge.backend.until(() => edge.backend.closedSessions.length === 2, "d2 closed");
    assert.deepEqual(
      edge.backend.closedSessions.map((closed) => closed.deviceKey),
      [`${PRODUCT}/d1`, `${PRODUCT}/d2`],
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IDisconnectPacket } from "mqtt-packet";
import { Reason } from "../src/index.js";
import { azureUsername, connectDevice, nextEvent, PRODUCT, startEdge, topicOf } from "./helpers.js";

describe("session take-over", () => {
  it("closes the older session of a device when it connects again", async (t) => {
    const edge = await startEdge(t);
    const older = await connectDevice(t, edge, "d1");
    const olderSession = edge.backend.sessionOf("d1");
    const olderClosed = nextEvent(older, "close");
    const newer = await connectDevice(t, edge, "d1");
    await olderClosed;
    const newerSession = edge.backend.sessionOf("d1");
    assert.notEqual(newerSession.id, olderSession.id);
    // The backend hears the end of the older session before the newer one opens.
    assert.deepEqual(edge.backend.lifecycle, [
      `opened ${PRODUCT}/d1 ${olderSession.id}`,
      `closed ${PRODUCT}/d1 ${olderSession.id}`,
      `opened ${PRODUCT}/d1 ${newerSession.id}`,
    ]);
    assert.equal(edge.server.sessionCount, 1);

    await newer.publishAsync(topicOf("d1", "image/get"), "{}", { qos: 1 });
    assert.equal(edge.backend.publishes[0]?.session, newerSession);
  });

  it("tells an MQTT 5 older session 0x8E", async (t) => {
    const edge = await startEdge(t);
    const older = await connectDevice(t, edge, "d1", { protocolVersion: 5 });
    const disconnected = nextEvent<[IDisconnectPacket]>(older, "disconnect");
    await connectDevice(t, edge, "d1", { protocolVersion: 5 });
    const [packet] = await disconnected;
    assert.equal(packet.reasonCode, Reason.sessionTakenOver);
    assert.equal(edge.server.sessionCount, 1);
  });

  it("one session per Azure device id: a second CONNECT of the id takes the first over", async (t) => {
    const edge = await startEdge(t);
    // As Azure's SDK connects: client id = deviceId, clean=false, keep-alive 180 s.
    const azure = { username: azureUsername("d1"), clean: false, keepalive: 180 };
    const older = await connectDevice(t, edge, "d1", azure);
    const olderSession = edge.backend.sessionOf("d1");
    const olderClosed = nextEvent(older, "close");
    await connectDevice(t, edge, "d1", azure);
    await olderClosed;
    const newerSession = edge.backend.sessionOf("d1");
    assert.notEqual(newerSession.id, olderSession.id);
    assert.equal(newerSession.dialect, "azure");
    assert.deepEqual(edge.backend.lifecycle, [
      `opened ${PRODUCT}/d1 ${olderSession.id}`,
      `closed ${PRODUCT}/d1 ${olderSession.id}`,
      `opened ${PRODUCT}/d1 ${newerSession.id}`,
    ]);
    assert.equal(edge.server.sessionCount, 1);
    // Another device id of the hub is another session.
    await connectDevice(t, edge, "d2", { ...azure, username: azureUsername("d2") });
    assert.equal(edge.server.sessionCount, 2);
  });

  it("leaves other devices alone", async (t) => {
    const edge = await startEdge(t);
    const d1 = await connectDevice(t, edge, "d1");
    await connectDevice(t, edge, "d2");
    await connectDevice(t, edge, "d2");
    assert.equal(d1.connected, true);
    assert.equal(edge.server.sessionCount, 2);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "@umbra/runtime";
import type { IDisconnectPacket } from "mqtt-packet";
import { createEdgeServer, DEFAULT_EDGE_LIMITS, Reason, resolveEdgeLimits } from "../src/index.js";
import { connectDevice, nextEvent, RawClient, startEdge, TestBackend } from "./helpers.js";

describe("edge server", () => {
  it("close() ends every connection and resolves once all are closed", async (t) => {
    const edge = await startEdge(t);
    const v4 = await connectDevice(t, edge, "d1");
    const v5 = await connectDevice(t, edge, "d2", { protocolVersion: 5 });
    const anonymous = await RawClient.open(t, edge); // no CONNECT yet
    const v4Closed = nextEvent(v4, "close");
    const v5Disconnected = nextEvent<[IDisconnectPacket]>(v5, "disconnect");
    assert.equal(edge.server.sessionCount, 2);

    await edge.server.close();
    assert.equal((await v5Disconnected)[0].reasonCode, Reason.serverShuttingDown);
    await v4Closed;
    await anonymous.closedAfter();
    assert.equal(edge.server.sessionCount, 0);
    assert.equal(edge.backend.closedSessions.length, 2);
    await edge.server.close(); // idempotent
  });

  it("survives a connection reset and still serves others", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    client.socket.resetAndDestroy();
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
    await connectDevice(t, edge, "d2");
    assert.equal(edge.server.sessionCount, 1);
  });

  it("passes a backend's close to an MQTT 5 device as DISCONNECT with its reason", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1", { protocolVersion: 5 });
    const disconnected = nextEvent<[IDisconnectPacket]>(client, "disconnect");
    edge.backend.sessionOf("d1").close(Reason.sessionTakenOver, "connected at another edge");
    const [packet] = await disconnected;
    assert.equal(packet.reasonCode, Reason.sessionTakenOver);
    assert.equal(packet.properties?.reasonString, "connected at another edge");
  });

  it("reports a port already in use from listen()", async (t) => {
    const edge = await startEdge(t);
    const second = createEdgeServer({
      backend: new TestBackend(),
      logger: createLogger("edge-test", "silent"),
    });
    await assert.rejects(second.listen(edge.port, "127.0.0.1"), { code: "EADDRINUSE" });
    await second.close();
  });

  it("fills in default limits and refuses nonsensical ones", () => {
    assert.deepEqual(resolveEdgeLimits(), DEFAULT_EDGE_LIMITS);
    assert.deepEqual(DEFAULT_EDGE_LIMITS, {
      maxPacketBytes: 65_536,
      maxInflight: 32,
      outboundHighWaterBytes: 1_048_576,
      connectTimeoutMs: 10_000,
      maxConnectBytes: 4_096,
      maxSubscriptions: 128,
      maxTopicBytes: 512,
      authFailureLimit: 10,
      authFailureWindowMs: 60_000,
      authFailureDelayMs: 2_000,
      authFailureTableSize: 10_000,
      maxPersistentSessions: 10_000,
      sessionExpirySeconds: 3_600,
    });
    assert.equal(resolveEdgeLimits({ maxInflight: 4 }).maxInflight, 4);
    assert.equal(resolveEdgeLimits({ authFailureLimit: 0 }).authFailureLimit, 0);
    assert.throws(() => resolveEdgeLimits({ authFailureLimit: -1 }), RangeError);
    assert.throws(() => resolveEdgeLimits({ maxSubscriptions: 0 }), RangeError);
    assert.throws(() => resolveEdgeLimits({ maxInflight: 0 }), RangeError);
    assert.throws(() => resolveEdgeLimits({ maxInflight: 70_000 }), RangeError);
    assert.throws(() => resolveEdgeLimits({ maxPacketBytes: 1.5 }), RangeError);
  });
});

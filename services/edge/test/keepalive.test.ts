import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Reason } from "../src/index.js";
import { connectDevice, nextEvent, RawClient, startEdge } from "./helpers.js";

describe("keep-alive", () => {
  it("answers PINGREQ with PINGRESP", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1");
    await client.ping();
    await client.ping();
  });

  it("closes a 3.1.1 session that sends nothing for 1.5 keep-alive periods", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1", 4, 1);
    assert.deepEqual(await client.closedAfter(), []);
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
  });

  it("disconnects a silent MQTT 5 session with 0x8D", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.connected(t, edge, "d1", 5, 1);
    const [disconnect, ...rest] = await client.closedAfter();
    assert.equal(disconnect?.cmd, "disconnect");
    if (disconnect?.cmd === "disconnect")
      assert.equal(disconnect.reasonCode, Reason.keepAliveTimeout);
    assert.deepEqual(rest, []);
  });

  it("keeps a client that pings in time", async (t) => {
    const edge = await startEdge(t);
    const client = await connectDevice(t, edge, "d1", { keepalive: 1 });
    // Three PINGRESPs span more than 1.5 keep-alive periods.
    for (let i = 0; i < 3; i++) {
      for (;;) {
        const [packet] = await nextEvent<[{ cmd: string }]>(client, "packetreceive");
        if (packet.cmd === "pingresp") break;
      }
    }
    assert.equal(client.connected, true);
    assert.equal(edge.backend.closedSessions.length, 0);
  });
});

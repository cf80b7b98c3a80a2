import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Reason } from "../src/index.js";
import { connectDevice, nextEvent, RawClient, startEdge, versionName } from "./helpers.js";

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

  for (const version of [4, 5] as const) {
    it(`takes a keep-alive of 1200 s, and up to MQTT's 65535 s, as asked (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t);
      for (const [name, keepalive] of [
        ["d1", 1_200],
        ["d2", 65_535],
      ] as const) {
        const client = await RawClient.connected(t, edge, name, version, keepalive);
        const session = edge.backend.sessionOf(name);
        // The silence it is closed after: one and a half keep-alives, never lowered.
        assert.equal(session.keepAliveMs, keepalive * 1_500);
        await client.ping();
      }
      assert.equal(edge.backend.closedSessions.length, 0);
    });
  }

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

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metricsText } from "@umbra/runtime";
import { edgeMetrics } from "../src/index.js";
import { connectDevice, nextEvent, startEdge, topicOf } from "./helpers.js";

const metrics = edgeMetrics();
const traffic = metrics.traffic("onenet");

/** What `action` added to each counter read by `read`. */
const moved = async <K extends string>(
  read: () => Record<K, number>,
  action: () => Promise<void>,
): Promise<Record<K, number>> => {
  const before = read();
  await action();
  const after = read();
  return Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, (v as number) - before[k as K]]),
  ) as Record<K, number>;
};

const gauge = async (): Promise<number> =>
  Number(/^umbra_edge_connections (\d+)$/m.exec(await metricsText())?.[1]);

describe("edge metrics", () => {
  it("count connects, sessions, messages in and a QoS 1 publish the cluster never took", async (t) => {
    const edge = await startEdge(t);
    edge.backend.autoAck = false;
    const counts = await moved(
      () => ({
        accepted: metrics.connectsAccepted.value,
        refused: metrics.connectsRefused.value,
        in: traffic.in.value,
        timeouts: metrics.commandTimeouts.value,
      }),
      async () => {
        await assert.rejects(connectDevice(t, edge, "banned"));
        const client = await connectDevice(t, edge, "d1");
        assert.equal(await gauge(), 1);
        const closed = nextEvent(client, "close");
        client.publish(topicOf("d1", "image/update"), "{}", { qos: 1 });
        await edge.backend.until(() => edge.backend.pending().length === 1, "the publish");
        edge.backend.pending()[0]?.settle(false);
        await closed; // no PUBACK: the edge closes the session so the device retransmits
      },
    );
    assert.deepEqual(counts, { accepted: 1, refused: 1, in: 1, timeouts: 1 });
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "the session closed");
    assert.equal(await gauge(), 0);
  });

  it("count messages out, and a delivery dropped for the client's packet size", async (t) => {
    const edge = await startEdge(t);
    const accepted = topicOf("d1", "image/update/accepted");
    const client = await connectDevice(t, edge, "d1", {
      protocolVersion: 5,
      properties: { maximumPacketSize: 128 },
    });
    await client.subscribeAsync(accepted);
    const session = edge.backend.sessionOf("d1");
    const counts = await moved(
      () => ({ out: traffic.out.value, dropped: metrics.droppedTooLarge.value }),
      async () => {
        const received = nextEvent(client, "message");
        assert.equal(session.deliver(accepted, Buffer.from("{}")), true);
        await received;
        assert.equal(session.deliver(accepted, Buffer.alloc(256, 0x61)), false);
      },
    );
    assert.deepEqual(counts, { out: 1, dropped: 1 });
  });
});

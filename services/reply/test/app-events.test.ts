import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AcceptedEvent, OutboundText } from "@umbra/bus";
import { encodeJson, oneNetDelta, oneNetUpdateAccepted } from "@umbra/core";
import { type AppEvent, encodeAppEvent, renderOneNetAccepted } from "../src/index.js";
import { accepted } from "./events.js";

const device = { productId: "p1", deviceName: "lamp" };

const withDelta = accepted({
  source: "cloud",
  origin: undefined,
  applied: { desired: { color: "green" } },
  delta: { color: "green" },
  deltaMetadata: {
    color: { timestamp: 1_700_000_123_456, version: 7, source: "cloud", quality: "good" },
  },
} as Partial<AcceptedEvent>);

describe("accepted writes", () => {
  it("render the OneNET accepted message byte for byte as encoding it whole does", () => {
    const event = accepted();
    const out: OutboundText[] = [];
    const json = renderOneNetAccepted(event, device, out);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.topic, "$sys/p1/lamp/image/update/accepted");
    assert.equal(
      out[0]?.body,
      encodeJson(oneNetUpdateAccepted(event.applied, event.version, event.timestamp)),
    );
    assert.equal(json.applied, JSON.stringify(event.applied));
    assert.equal(json.delta, undefined);
  });

  it("send a cloud write's delta only, and hand its text on", () => {
    const out: OutboundText[] = [];
    const json = renderOneNetAccepted(withDelta, device, out);
    assert.deepEqual(
      out.map((m) => m.topic),
      ["$sys/p1/lamp/image/update/delta"],
    );
    const expected = JSON.stringify(
      oneNetDelta(
        withDelta.delta as NonNullable<AcceptedEvent["delta"]>,
        withDelta.deltaMetadata as NonNullable<AcceptedEvent["deltaMetadata"]>,
        7,
        withDelta.timestamp,
      ),
    );
    assert.equal(out[0]?.body, expected);
    assert.equal(json.delta, expected);
  });
});

describe("application events", () => {
  it("are JSON of the write: device, source, op, version, timestamp, applied, delta", () => {
    const event = withDelta;
    const json = renderOneNetAccepted(event, device, []);
    const text = encodeAppEvent(JSON.stringify("lamp"), event, json.applied, json.delta);
    const parsed = JSON.parse(text) as AppEvent;
    assert.deepEqual(parsed, {
      device: "lamp",
      source: "cloud",
      op: "update",
      version: 7,
      timestamp: 1_700_000_123_456,
      applied: { desired: { color: "green" } },
      delta: {
        state: { color: "green" },
        metadata: { color: { timestamp: 1_700_000_123 } },
        version: 7,
        timestamp: 1_700_000_123,
      },
    });
  });

  it("carry deletes and leave delta out when there is none", () => {
    const event = accepted({
      source: "cloud",
      op: "delete",
      applied: { desired: null, reported: null },
    });
    const json = renderOneNetAccepted(event, device, []);
    const text = encodeAppEvent(JSON.stringify('odd "name"'), event, json.applied, json.delta);
    assert.deepEqual(JSON.parse(text), {
      device: 'odd "name"',
      source: "cloud",
      op: "delete",
      version: 7,
      timestamp: 1_700_000_123_456,
      applied: { desired: null, reported: null },
    });
  });
});

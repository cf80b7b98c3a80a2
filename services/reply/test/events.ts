import type { AcceptedEvent } from "@umbra/bus";

/** ms: the time of every event the tests make. */
export const EVENT_TIME = 1_700_000_123_456;

/** A OneNET device's accepted report of `p1/lamp` through edge `e1`, with `over` applied. */
export const accepted = (over: Partial<AcceptedEvent> = {}): AcceptedEvent => ({
  kind: "accepted",
  device: "p1/lamp",
  dialect: "onenet",
  source: "device",
  op: "update",
  origin: "umbra.edge.e1",
  version: 7,
  timestamp: EVENT_TIME,
  applied: { reported: { color: "red", level: 3, nested: { on: true } } },
  delta: undefined,
  deltaMetadata: undefined,
  ...over,
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  changeFrames,
  type EventFilter,
  formatEventId,
  lastEventIdOf,
  missedFrame,
  ProblemError,
  parseEventId,
  planStart,
  type RequestContext,
} from "../src/index.js";

/** The SSE events of a text: each one's fields, in order (comments dropped). */
const parseSse = (text: string): Record<string, string>[] =>
  text
    .split("\n\n")
    .filter((block) => block !== "")
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        fields[line.slice(0, colon)] = line.slice(colon + 2);
      }
      return fields;
    })
    .filter((fields) => Object.keys(fields).length > 0);

describe("event ids", () => {
  it("are {sequence}.{index} and read back", () => {
    assert.equal(formatEventId({ seq: 12, index: 3 }), "12.3");
    assert.deepEqual(parseEventId("12.3"), { seq: 12, index: 3 });
    assert.deepEqual(parseEventId(" 7.0 "), { seq: 7, index: 0 });
    for (const bad of ["", "12", "12.", ".3", "0.1", "-1.2", "1.2.3", "a.b", "1e3.1", "12.3x"])
      assert.equal(parseEventId(bad), undefined, bad);
  });

  it("come from Last-Event-ID, else ?after=; a malformed one is a 400", () => {
    const ctx = (headers: Record<string, string>, query = ""): RequestContext => ({
      params: {},
      query: new URLSearchParams(query),
      headers,
      body: undefined,
      key: undefined,
    });
    assert.equal(lastEventIdOf(ctx({})), undefined);
    assert.deepEqual(lastEventIdOf(ctx({}, "after=4.1")), { seq: 4, index: 1 });
    assert.deepEqual(lastEventIdOf(ctx({ "last-event-id": "9.2" }, "after=4.1")), {
      seq: 9,
      index: 2,
    });
    assert.throws(
      () => lastEventIdOf(ctx({ "last-event-id": "yesterday" })),
      (e: unknown) => e instanceof ProblemError && e.problem.status === 400,
    );
  });
});

describe("where a stream starts", () => {
  const state = { firstSeq: 10, lastSeq: 20 };

  it("a new client: after the last message", () => {
    assert.deepEqual(planStart(state, undefined), { seq: 21, after: undefined, missed: undefined });
    assert.equal(planStart({ firstSeq: 0, lastSeq: 0 }, undefined).seq, 1);
  });

  it("a kept id: at its message, skipping what the client saw", () => {
    const after = { seq: 15, index: 2 };
    assert.deepEqual(planStart(state, after), { seq: 15, after, missed: undefined });
    assert.deepEqual(planStart(state, { seq: 20, index: 0 }).seq, 20);
    assert.deepEqual(planStart(state, { seq: 10, index: 0 }).seq, 10);
  });

  it("an expired id: at the oldest kept, saying events were missed", () => {
    const plan = planStart(state, { seq: 9, index: 4 });
    assert.equal(plan.seq, 10);
    assert.equal(plan.after, undefined);
    assert.equal(plan.missed?.reason, "expired");
    assert.match(plan.missed?.detail ?? "", /9\.4/);
    // Everything expired: nothing kept, the stream goes on from the next message.
    assert.equal(planStart({ firstSeq: 21, lastSeq: 20 }, { seq: 20, index: 0 }).seq, 21);
  });

  it("an id from before the history was reset: everything kept, saying so", () => {
    const plan = planStart({ firstSeq: 1, lastSeq: 3 }, { seq: 40, index: 0 });
    assert.equal(plan.seq, 1);
    assert.equal(plan.missed?.reason, "reset");
    assert.equal(planStart({ firstSeq: 0, lastSeq: 0 }, { seq: 2, index: 0 }).seq, 1);
  });
});

describe("SSE frames", () => {
  const message = JSON.stringify([
    { device: "a", op: "update", version: 1 },
    { device: "b", op: "update", version: 4 },
    { device: "a", op: "delete", version: 2 },
  ]);

  it("one change event per application event, with its id", () => {
    const events = parseSse(changeFrames(message, 7, {}) ?? "");
    assert.deepEqual(
      events.map((e) => [e.id, e.event, JSON.parse(e.data ?? "null").version]),
      [
        ["7.0", "change", 1],
        ["7.1", "change", 4],
        ["7.2", "change", 2],
      ],
    );
  });

  it("only the device's, keeping each event's index in the message", () => {
    const events = parseSse(changeFrames(message, 7, { deviceName: "a" }) ?? "");
    assert.deepEqual(
      events.map((e) => e.id),
      ["7.0", "7.2"],
    );
    assert.deepEqual(
      parseSse(changeFrames(message, 7, { deviceName: "a" }, 0) ?? "").map((e) => e.id),
      ["7.2"],
    );
    assert.equal(changeFrames(message, 7, { deviceName: "a" }, 2), "");
  });

  it("only a named shadow's, or only the classic shadow's, and by device and shadow at once", () => {
    const shadows = JSON.stringify([
      { device: "a", op: "update", version: 1 },
      { device: "a", shadow: "fan", op: "update", version: 1 },
      { device: "b", shadow: "fan", op: "update", version: 7 },
      { device: "a", shadow: "fan-2", op: "update", version: 3 },
    ]);
    const ids = (filter: EventFilter) =>
      parseSse(changeFrames(shadows, 9, filter) ?? "").map((e) => e.id);
    assert.deepEqual(ids({ shadow: "fan" }), ["9.1", "9.2"]);
    assert.deepEqual(ids({ shadow: "" }), ["9.0"]);
    assert.deepEqual(ids({ deviceName: "a", shadow: "fan" }), ["9.1"]);
    assert.deepEqual(ids({ deviceName: "a" }), ["9.0", "9.1", "9.3"]);
    assert.deepEqual(ids({ shadow: "nope" }), []);
  });

  it("a device's telemetry: by device like any event, left out of a stream filtered by shadow", () => {
    // As the edge publishes it: the device's JSON embedded as it came, line breaks included.
    const telemetry = `[{"device":"a","source":"device","op":"telemetry","timestamp":1,"properties":{"$.ct":"application/json"},"body":{\n "t": 21.5\n}}]`;
    const mixed = JSON.stringify([
      { device: "a", op: "update", version: 1 },
      { device: "a", shadow: "fan", op: "update", version: 1 },
    ]);
    const ids = (text: string, filter: EventFilter) =>
      parseSse(changeFrames(text, 3, filter) ?? "").map((e) => e.id);
    assert.deepEqual(ids(telemetry, {}), ["3.0"]);
    assert.deepEqual(ids(telemetry, { deviceName: "a" }), ["3.0"]);
    assert.deepEqual(ids(telemetry, { deviceName: "b" }), []);
    assert.deepEqual(ids(telemetry, { shadow: "" }), []);
    assert.deepEqual(ids(telemetry, { shadow: "fan" }), []);
    // OneNET thing events and history values are a device's messages too.
    const thing = JSON.stringify([
      { device: "a", op: "event", identifier: "alarm", value: 1, time: 1 },
      { device: "a", op: "history", kind: "property", identifier: "t", value: 2, time: 1 },
    ]);
    assert.deepEqual(ids(thing, { deviceName: "a" }), ["3.0", "3.1"]);
    assert.deepEqual(ids(thing, { shadow: "" }), []);
    // The shadow filters still serve the shadows' writes beside it.
    assert.deepEqual(ids(mixed, { shadow: "" }), ["3.0"]);
    assert.deepEqual(ids(mixed, { shadow: "fan" }), ["3.1"]);
    const [event] = parseSse(changeFrames(telemetry, 3, {}) ?? "");
    assert.deepEqual(JSON.parse(event?.data ?? "null"), {
      device: "a",
      source: "device",
      op: "telemetry",
      timestamp: 1,
      properties: { "$.ct": "application/json" },
      body: { t: 21.5 },
    });
  });

  it("no ids without a stream sequence; unreadable messages are undefined", () => {
    const events = parseSse(changeFrames(message, undefined, { deviceName: "b" }) ?? "");
    assert.deepEqual(events, [
      { event: "change", data: JSON.stringify({ device: "b", op: "update", version: 4 }) },
    ]);
    assert.equal(changeFrames("{nope", 1, {}), undefined);
    assert.equal(changeFrames('{"device":"a"}', 1, {}), undefined);
  });

  it("data stays on one line whatever the values hold", () => {
    const tricky = JSON.stringify([{ device: "a", applied: { reported: { s: "x\ny\r\n\nz" } } }]);
    const events = parseSse(changeFrames(tricky, 1, {}) ?? "");
    assert.equal(events.length, 1);
    assert.deepEqual(JSON.parse(events[0]?.data ?? "null").applied.reported.s, "x\ny\r\n\nz");
  });

  it("a missed event has no id, so a client keeps its last one", () => {
    const [missed] = parseSse(missedFrame({ reason: "expired", detail: "gone" }));
    assert.deepEqual(missed, {
      event: "missed",
      data: JSON.stringify({ reason: "expired", detail: "gone" }),
    });
  });
});

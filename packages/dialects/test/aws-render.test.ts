import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  createShadow,
  metadataOf,
  type ShadowDocument,
  type ShadowError,
  ShadowErrors,
} from "@umbra/core";
import {
  type AcceptedEvent,
  awsDialect,
  type EventJson,
  type OutboundText,
  type ShadowEvent,
} from "../src/index.js";

const device = { productId: "prod1", deviceName: "thing1" };
const P = "$aws/things/thing1/shadow";
const NO_JSON: EventJson = { applied: undefined, delta: undefined };
const ms = (s: number) => s * 1000 + 123; // seconds are floored

const answer = (event: ShadowEvent, nowMs = 0): OutboundText[] => {
  const out: OutboundText[] = [];
  awsDialect.renderAnswer(event, device, out, NO_JSON, nowMs);
  return out;
};

const write = (doc: ShadowDocument, state: object, atS: number): ShadowDocument => {
  const result = applyUpdate(doc, { ...state, source: "cloud" }, { now: ms(atS) });
  assert.ok(result.ok);
  return result.value.doc;
};

/** The DIALECTS.md §1.2 shadow: desired red at …001, reported green at …004, version 8. */
const shadow = (): ShadowDocument => {
  const desired = write(
    createShadow("prod1", "thing1", ms(1596149000)),
    { desired: { color: "red" } },
    1596149001,
  );
  return { ...write(desired, { reported: { color: "green" } }, 1596149004), version: 8 };
};

const base = { device: "prod1/thing1", dialect: "aws" as const, source: "device" as const };

describe("AWS answers", () => {
  it("renders update/accepted byte for byte, with the clientToken", () => {
    const event: AcceptedEvent = {
      ...base,
      kind: "accepted",
      op: "update",
      clientToken: "tok-1",
      version: 8,
      timestamp: ms(1596149004),
      applied: { reported: { color: "green" } },
      delta: undefined,
      deltaMetadata: undefined,
    };
    assert.deepEqual(answer(event), [
      {
        topic: `${P}/update/accepted`,
        body: '{"state":{"reported":{"color":"green"}},"metadata":{"reported":{"color":{"timestamp":1596149004}}},"version":8,"timestamp":1596149004,"clientToken":"tok-1"}',
      },
    ]);
  });

  it("renders get/accepted byte for byte, delta included", () => {
    const out = answer({
      ...base,
      kind: "document",
      op: "get",
      clientToken: "410f8767-b948-49a3-a1c0-f882aea09bd9",
      document: shadow(),
      timestamp: ms(1596149010),
    });
    assert.deepEqual(out, [
      {
        topic: `${P}/get/accepted`,
        body: '{"state":{"desired":{"color":"red"},"reported":{"color":"green"},"delta":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1596149001}},"reported":{"color":{"timestamp":1596149004}}},"version":8,"timestamp":1596149010,"clientToken":"410f8767-b948-49a3-a1c0-f882aea09bd9"}',
      },
    ]);
  });

  it("renders update/delta and update/documents with the token of the write that caused them", () => {
    const previous: ShadowDocument = {
      ...write(
        createShadow("prod1", "thing1", ms(1596149000)),
        { reported: { color: "green" } },
        1596149004,
      ),
      version: 8,
    };
    const result = applyUpdate(
      previous,
      { desired: { color: "red" }, source: "cloud" },
      { now: ms(1596149020) },
    );
    assert.ok(result.ok);
    const event: AcceptedEvent = {
      ...base,
      source: "cloud",
      kind: "accepted",
      op: "update",
      clientToken: "tok-2",
      version: 9,
      timestamp: ms(1596149020),
      applied: result.value.applied,
      delta: { color: "red" },
      deltaMetadata: metadataOf({ color: "red" }, result.value.doc.metadata.desired),
      previous,
      document: result.value.doc,
    };
    const out: OutboundText[] = [];
    awsDialect.renderPush(event, device, out, NO_JSON, 0);
    assert.deepEqual(
      out.map((m) => m.topic),
      [`${P}/update/accepted`, `${P}/update/delta`, `${P}/update/documents`],
    );
    assert.equal(
      out[1]?.body,
      '{"version":9,"timestamp":1596149020,"state":{"color":"red"},"metadata":{"color":{"timestamp":1596149020}},"clientToken":"tok-2"}',
    );
    const documents = JSON.parse(out[2]?.body ?? "");
    assert.equal(
      JSON.stringify(documents.previous),
      '{"state":{"reported":{"color":"green"}},"metadata":{"reported":{"color":{"timestamp":1596149004}}},"version":8}',
    );
    assert.deepEqual(documents.current.state, {
      desired: { color: "red" },
      reported: { color: "green" },
    });
    assert.equal(documents.current.version, 9);
    assert.equal(documents.timestamp, 1596149020);
    assert.equal(documents.clientToken, "tok-2");
    assert.deepEqual(Object.keys(documents), ["previous", "current", "timestamp", "clientToken"]);
  });

  it("renders no documents when the event lacks the documents before and after", () => {
    const out = answer({
      ...base,
      kind: "accepted",
      op: "update",
      version: 2,
      timestamp: ms(1),
      applied: { reported: { a: 1 } },
      delta: undefined,
      deltaMetadata: undefined,
    });
    assert.deepEqual(
      out.map((m) => m.topic),
      [`${P}/update/accepted`],
    );
    assert.ok(!out[0]?.body.includes("clientToken"), "no token, none echoed");
  });

  it("renders delete/accepted byte for byte, with the version deleted (the event's is the tombstone's, one after)", () => {
    const out = answer({
      ...base,
      kind: "accepted",
      op: "delete",
      clientToken: "tok-d",
      version: 10,
      timestamp: ms(1596149030),
      applied: { desired: null, reported: null },
      delta: undefined,
      deltaMetadata: undefined,
    });
    assert.deepEqual(out, [
      {
        topic: `${P}/delete/accepted`,
        body: '{"version":9,"timestamp":1596149030,"clientToken":"tok-d"}',
      },
    ]);
  });

  it("rejects on the topic of the request, echoing the token, 409 byte for byte", () => {
    const rejected = (
      op: "update" | "get" | "delete",
      error: ShadowError = ShadowErrors.versionConflict(7, 8),
    ) => answer({ ...base, kind: "rejected", op, clientToken: "tok-3", error }, ms(1596149040));
    assert.deepEqual(rejected("update"), [
      {
        topic: `${P}/update/rejected`,
        body: '{"code":409,"message":"Version conflict","timestamp":1596149040,"clientToken":"tok-3"}',
      },
    ]);
    assert.deepEqual(rejected("get", ShadowErrors.shadowNotFound()), [
      {
        topic: `${P}/get/rejected`,
        body: '{"code":404,"message":"No shadow exists with name: thing1","timestamp":1596149040,"clientToken":"tok-3"}',
      },
    ]);
    assert.equal(
      rejected("delete", ShadowErrors.shadowNotFound())[0]?.topic,
      `${P}/delete/rejected`,
    );
    const named = answer(
      {
        ...base,
        kind: "rejected",
        op: "get",
        shadow: "lamp",
        error: ShadowErrors.shadowNotFound(),
      },
      ms(5),
    );
    assert.deepEqual(named, [
      {
        topic: "$aws/things/thing1/shadow/name/lamp/get/rejected",
        body: '{"code":404,"message":"No shadow exists with name: lamp","timestamp":5}',
      },
    ]);
  });

  it("answers nothing to a sync", () => {
    assert.deepEqual(
      answer({ ...base, kind: "document", op: "sync", document: shadow(), timestamp: 0 }),
      [],
    );
  });
});

/**
 * The reply service's routing, against a fake NATS connection that records what is
 * published (the service's logic is pure: events in, messages out).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type AcceptedEvent,
  appSubject,
  decodeDeliver,
  decodeEdgeDeliver,
  deviceSubject,
  type Msg,
  type NatsConnection,
  type ShadowEvent,
  Tag,
} from "@umbra/bus";
import { createShadow, type ShadowDocument } from "@umbra/core";
import { createLogger } from "@umbra/runtime";
import { type AppEvent, Reply } from "../src/index.js";
import { accepted, EVENT_TIME } from "./events.js";

const logger = createLogger("reply-test", "silent");
const NOW = EVENT_TIME;
const decoder = new TextDecoder();

interface Published {
  readonly subject: string;
  readonly data: Uint8Array | string;
}

/**
 * Runs one turn: the reply service consumes `messages` (each one NATS message of events)
 * and stops, which flushes what the turn collected. Returns every publish, in order.
 */
const turn = async (messages: readonly string[], maxPayload = 1024 * 1024) => {
  const published: Published[] = [];
  let consume: ((error: Error | null, msg: Msg) => void) | undefined;
  const nc = {
    info: { max_payload: maxPayload },
    publish: (subject: string, data: Uint8Array | string) => {
      published.push({ subject, data });
    },
    subscribe: (_subject: string, options: { callback: typeof consume }) => {
      consume = options.callback;
      return { drain: async () => undefined };
    },
    flush: async () => undefined,
  } as unknown as NatsConnection;
  const reply = new Reply(nc, logger, undefined, () => NOW);
  reply.start();
  // Event messages are a JSON array behind their frame tag, as the shard sends them.
  for (const text of messages)
    consume?.(null, {
      data: new TextEncoder().encode(String.fromCharCode(Tag.Events) + asArray(text)),
    } as unknown as Msg);
  await reply.stop();
  return published;
};

/** One event's JSON as the one-element array a shard's frame holds; anything else as it is. */
const asArray = (text: string): string => {
  try {
    return Array.isArray(JSON.parse(text)) ? text : `[${text}]`;
  } catch {
    return text;
  }
};

const bytesOf = (data: Uint8Array | string): Uint8Array =>
  typeof data === "string" ? new TextEncoder().encode(data) : data;

/** Topics of the messages published on `subject` (device subjects: deliver frames). */
const deviceTopics = (published: readonly Published[], subject: string): string[] =>
  published
    .filter((p) => p.subject === subject)
    .flatMap((p) => decodeDeliver(bytesOf(p.data)).map((m) => m.topic));

const lampSubject = deviceSubject("p1", "lamp");

/** The document after a write that set desired `color` (what Alibaba's control carries). */
const withDesired: ShadowDocument = {
  ...createShadow("p1", "lamp", NOW),
  desired: { color: "green" },
  version: 7,
};

/** An accepted write that changed desired: a delta and the document. */
const desiredWrite = (over: Partial<AcceptedEvent>): AcceptedEvent =>
  accepted({
    applied: { desired: { color: "green" } },
    delta: { color: "green" },
    deltaMetadata: { color: { timestamp: NOW, version: 7, source: "cloud", quality: "good" } },
    document: withDesired,
    ...over,
  } as Partial<AcceptedEvent>);

describe("answers to a device's own request", () => {
  it("go to the inbox of the edge it came through, in its dialect: one frame per edge per turn", async () => {
    const events: ShadowEvent[] = [
      accepted(),
      accepted({ version: 8 }),
      accepted({ device: "p1/fan", version: 2 }),
      {
        kind: "rejected",
        device: "p1/lamp",
        dialect: "onenet",
        source: "device",
        op: "get",
        origin: "umbra.edge.e2",
        error: { _tag: "ShadowNotFound" },
      } as ShadowEvent,
    ];
    const published = await turn([JSON.stringify(events.slice(0, 3)), JSON.stringify(events[3])]);
    const toEdges = published.filter((p) => p.subject.startsWith("umbra.edge."));
    assert.deepEqual(
      toEdges.map((p) => p.subject),
      ["umbra.edge.e1", "umbra.edge.e2"],
    );
    const e1 = decodeEdgeDeliver(bytesOf(toEdges[0]?.data ?? ""));
    assert.deepEqual(
      e1.map((d) => [d.device, d.messages.map((m) => m.topic)]),
      [
        ["p1/lamp", ["$sys/p1/lamp/image/update/accepted", "$sys/p1/lamp/image/update/accepted"]],
        ["p1/fan", ["$sys/p1/fan/image/update/accepted"]],
      ],
    );
    const accept = JSON.parse(decoder.decode(e1[0]?.messages[0]?.payload)) as { version: number };
    assert.equal(accept.version, 7);
    const e2 = decodeEdgeDeliver(bytesOf(toEdges[1]?.data ?? ""));
    assert.deepEqual(
      e2.map((d) => [d.device, d.messages.map((m) => m.topic)]),
      [["p1/lamp", ["$sys/p1/lamp/image/get/rejected"]]],
    );
    assert.deepEqual(deviceTopics(published, lampSubject), [], "nothing on the device subject");
  });

  it("answer an Alibaba device on its own topic, to its edge", async () => {
    const published = await turn([JSON.stringify(accepted({ dialect: "aliyun", op: "request" }))]);
    const [frame] = published.filter((p) => p.subject === "umbra.edge.e1");
    const messages = decodeEdgeDeliver(bytesOf(frame?.data ?? ""))[0]?.messages ?? [];
    assert.deepEqual(
      messages.map((m) => m.topic),
      ["/shadow/get/p1/lamp"],
    );
  });
});

describe("pushes on the device's subject", () => {
  it("tell a cloud write to the device in every dialect that has something to say", async () => {
    const published = await turn([
      JSON.stringify(desiredWrite({ source: "cloud", dialect: undefined, origin: undefined })),
    ]);
    assert.deepEqual(deviceTopics(published, lampSubject).sort(), [
      "$aws/things/lamp/shadow/update/accepted",
      "$aws/things/lamp/shadow/update/delta",
      "$iothub/twin/PATCH/properties/desired/?$version=7",
      "$sys/p1/lamp/image/update/delta",
      "/shadow/get/p1/lamp",
    ]);
    assert.equal(
      published.filter((p) => p.subject.startsWith("umbra.edge.")).length,
      0,
      "no edge inbox: whichever edge holds the session picks the push up",
    );
  });

  it("carry a device's write that changed desired to the other dialects, never back in its own", async () => {
    const oneNet = await turn([JSON.stringify(desiredWrite({ dialect: "onenet" }))]);
    assert.deepEqual(deviceTopics(oneNet, lampSubject), [
      "/shadow/get/p1/lamp",
      "$aws/things/lamp/shadow/update/accepted",
      "$aws/things/lamp/shadow/update/delta",
      "$iothub/twin/PATCH/properties/desired/?$version=7",
    ]);
    const aliyun = await turn([JSON.stringify(desiredWrite({ dialect: "aliyun", op: "request" }))]);
    assert.deepEqual(deviceTopics(aliyun, lampSubject), [
      "$sys/p1/lamp/image/update/delta",
      "$aws/things/lamp/shadow/update/accepted",
      "$aws/things/lamp/shadow/update/delta",
      "$iothub/twin/PATCH/properties/desired/?$version=7",
    ]);
    const aws = await turn([JSON.stringify(desiredWrite({ dialect: "aws" }))]);
    assert.deepEqual(deviceTopics(aws, lampSubject), [
      "$sys/p1/lamp/image/update/delta",
      "/shadow/get/p1/lamp",
      "$iothub/twin/PATCH/properties/desired/?$version=7",
    ]);
    // The writer's own answer still goes to its edge.
    assert.deepEqual(
      oneNet.filter((p) => p.subject.startsWith("umbra.edge.")).map((p) => p.subject),
      ["umbra.edge.e1"],
    );
  });

  it("are not made for a device's report that left desired alone, delta or not", async () => {
    // An Alibaba device reports while a desired value waits: the event has a delta, but
    // desired did not change, so no other dialect is told anything new.
    const pending = accepted({
      dialect: "aliyun",
      op: "request",
      delta: { color: "green" },
      deltaMetadata: { color: { timestamp: NOW, version: 7, source: "cloud", quality: "good" } },
    } as Partial<AcceptedEvent>);
    const published = await turn([JSON.stringify([accepted(), pending])]);
    assert.deepEqual(deviceTopics(published, lampSubject), []);
  });
});

/** The topics and bodies of what went to edge `e1` for `p1/lamp`. */
const toEdge = (published: readonly Published[]): { topic: string; body: unknown }[] =>
  published
    .filter((p) => p.subject === "umbra.edge.e1")
    .flatMap((p) => decodeEdgeDeliver(bytesOf(p.data)))
    .flatMap((d) => d.messages)
    .map((m) => ({ topic: m.topic, body: JSON.parse(decoder.decode(m.payload)) }));

const A = "$aws/things/lamp/shadow";
const N = "$aws/things/lamp/shadow/name/lamp";
/** The document before `withDesired` was written. */
const before: ShadowDocument = { ...createShadow("p1", "lamp", NOW), version: 6 };

describe("AWS: documents and named shadows", () => {
  it("answer an AWS device's write with accepted, delta and documents (previous and current), its token echoed", async () => {
    const published = await turn([
      JSON.stringify(desiredWrite({ dialect: "aws", clientToken: "t1", previous: before })),
    ]);
    const answers = toEdge(published);
    assert.deepEqual(
      answers.map((a) => a.topic),
      [`${A}/update/accepted`, `${A}/update/delta`, `${A}/update/documents`],
    );
    const documents = answers[2]?.body as {
      previous: { version: number };
      current: { version: number; state: unknown };
      clientToken: string;
    };
    assert.equal(documents.previous.version, 6);
    assert.equal(documents.current.version, 7);
    assert.deepEqual(documents.current.state, { desired: { color: "green" } });
    assert.equal(documents.clientToken, "t1");
    for (const a of answers) assert.equal((a.body as { clientToken: string }).clientToken, "t1");
  });

  it("push a OneNET report to AWS subscribers only while an AWS session listens, with update/documents when the event carries the documents", async () => {
    const quiet = accepted({});
    assert.deepEqual(deviceTopics(await turn([JSON.stringify(quiet)]), lampSubject), []);
    const listened = accepted({ awsListens: true } as Partial<AcceptedEvent>);
    assert.deepEqual(deviceTopics(await turn([JSON.stringify(listened)]), lampSubject), [
      `${A}/update/accepted`,
    ]);
    const report = accepted({
      previous: before,
      document: withDesired,
      desiredUnchanged: true,
      awsListens: true,
    } as Partial<AcceptedEvent>);
    const published = await turn([JSON.stringify(report)]);
    assert.deepEqual(deviceTopics(published, lampSubject), [
      `${A}/update/accepted`,
      `${A}/update/documents`,
    ]);
    assert.deepEqual(
      toEdge(published).map((a) => a.topic),
      ["$sys/p1/lamp/image/update/accepted"],
      "the reporter's own answer as before",
    );
    // An Alibaba report while a desired value waits: AWS hears it (with its delta), the
    // OneNET delta is not pushed again (desired did not change).
    const pending = accepted({
      dialect: "aliyun",
      op: "request",
      delta: { color: "green" },
      deltaMetadata: { color: { timestamp: NOW, version: 7, source: "cloud", quality: "good" } },
      previous: before,
      document: withDesired,
      desiredUnchanged: true,
      awsListens: true,
    } as Partial<AcceptedEvent>);
    assert.deepEqual(deviceTopics(await turn([JSON.stringify(pending)]), lampSubject), [
      `${A}/update/accepted`,
      `${A}/update/delta`,
      `${A}/update/documents`,
    ]);
  });

  it("push no Alibaba control for a cloud write that left desired alone, documents or not", async () => {
    const published = await turn([
      JSON.stringify(
        accepted({
          source: "cloud",
          dialect: undefined,
          origin: undefined,
          previous: before,
          document: withDesired,
          desiredUnchanged: true,
        }),
      ),
    ]);
    assert.deepEqual(deviceTopics(published, lampSubject), [
      `${A}/update/accepted`,
      `${A}/update/documents`,
    ]);
  });

  it("render a named shadow's events for AWS only: a cloud write as pushes, a device's request as its answer", async () => {
    const cloud = await turn([
      JSON.stringify(
        desiredWrite({
          source: "cloud",
          dialect: undefined,
          origin: undefined,
          shadow: "lamp",
          previous: before,
        }),
      ),
    ]);
    assert.deepEqual(deviceTopics(cloud, lampSubject), [
      `${N}/update/accepted`,
      `${N}/update/delta`,
      `${N}/update/documents`,
    ]);
    const device = await turn([
      JSON.stringify([
        desiredWrite({ dialect: "aws", shadow: "lamp", clientToken: "n1", previous: before }),
        {
          kind: "rejected",
          device: "p1/lamp",
          dialect: "aws",
          source: "device",
          op: "get",
          origin: "umbra.edge.e1",
          shadow: "lamp",
          clientToken: "n2",
          error: { _tag: "ShadowNotFound" },
        },
      ]),
    ]);
    assert.deepEqual(deviceTopics(device, lampSubject), [], "no other dialect hears of it");
    const answers = toEdge(device);
    assert.deepEqual(
      answers.map((a) => a.topic),
      [`${N}/update/accepted`, `${N}/update/delta`, `${N}/update/documents`, `${N}/get/rejected`],
    );
    assert.deepEqual(answers[3]?.body, {
      code: 404,
      message: "No shadow exists with name: lamp",
      timestamp: Math.floor(NOW / 1000),
      clientToken: "n2",
    });
  });

  it("answer nothing to an AWS device's sync (it only told the shard an AWS session listens)", async () => {
    const published = await turn([
      JSON.stringify({
        kind: "document",
        device: "p1/lamp",
        dialect: "aws",
        source: "device",
        op: "sync",
        origin: "umbra.edge.e1",
        document: withDesired,
        timestamp: NOW,
      }),
    ]);
    assert.deepEqual(
      published.filter((p) => !p.subject.startsWith("umbra.app.")),
      [],
    );
  });
});

describe("application events", () => {
  const appEvents = (published: readonly Published[], productId: string): AppEvent[][] =>
    published
      .filter((p) => p.subject === appSubject(productId))
      .map((p) => JSON.parse(decoder.decode(bytesOf(p.data))) as AppEvent[]);

  it("go out as one message per product per turn, in order, for accepted writes only", async () => {
    const published = await turn([
      JSON.stringify([accepted({ version: 1 }), accepted({ device: "p2/x", version: 5 })]),
      JSON.stringify([
        accepted({ version: 2 }),
        { ...accepted({ version: 3 }), kind: "rejected", error: { _tag: "InvalidJson" } },
      ]),
    ]);
    const p1 = appEvents(published, "p1");
    assert.equal(p1.length, 1);
    assert.deepEqual(
      p1[0]?.map((e) => [e.device, e.version]),
      [
        ["lamp", 1],
        ["lamp", 2],
      ],
    );
    assert.deepEqual(
      appEvents(published, "p2").map((batch) => batch.map((e) => e.version)),
      [[5]],
    );
  });

  it("name the shadow of a named shadow's write, and none of a classic one's", async () => {
    const published = await turn([
      JSON.stringify([accepted({ shadow: "lamp", dialect: "aws" }), accepted({ version: 8 })]),
    ]);
    const [batch] = appEvents(published, "p1");
    assert.deepEqual(
      batch?.map((e) => [e.shadow, e.version]),
      [
        ["lamp", 7],
        [undefined, 8],
      ],
    );
    assert.equal(Object.keys(batch?.[0] ?? {})[1], "shadow", "right after the device");
  });

  it("are split before a batch could pass the server's max payload, keeping their order", async () => {
    const maxPayload = 2_000;
    const events = Array.from({ length: 40 }, (_, i) =>
      accepted({ version: i + 1, applied: { reported: { note: "é".repeat(20 + i) } } }),
    );
    const published = await turn([JSON.stringify(events)], maxPayload);
    const batches = appEvents(published, "p1");
    assert.ok(batches.length > 1, `${batches.length} batch(es)`);
    for (const p of published.filter((q) => q.subject === appSubject("p1")))
      assert.ok(bytesOf(p.data).length <= maxPayload, `${bytesOf(p.data).length} bytes`);
    assert.deepEqual(
      batches.flat().map((e) => e.version),
      events.map((e) => e.version),
    );
  });
});

describe("unreadable input", () => {
  it("is dropped without publishing: a message that is not JSON, an event for a bad device key", async () => {
    const published = await turn(["{not json", JSON.stringify(accepted({ device: "no-slash" }))]);
    assert.deepEqual(published, []);
  });
});

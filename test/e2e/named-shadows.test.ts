/**
 * Named shadows and AWS requests through the shard and reply processes, on a real NATS
 * and Redis: cloud callers through `ShadowClient`, an AWS device's requests as the edge
 * would send them (commands with the dialect `aws`, answered on the test's "edge inbox"),
 * pushes on the device's subject and application events.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  appSubject,
  type CommandHeader,
  commandSubject,
  connectBus,
  decodeDeliver,
  decodeEdgeDeliver,
  deviceSubject,
  encodeCommand,
  type NatsConnection,
  partitionOf,
  ShadowClient,
} from "@umbra/bus";
import { connectRedis, listShadowNames, type Redis } from "@umbra/store";
import { pollUntil } from "../src/harness.js";
import { type ServiceTier, startServiceTier } from "../src/tier.js";

const MAX_NAMED = 3;
let tier: ServiceTier;
let nc: NatsConnection;
let redis: Redis;
let client: ShadowClient;

before(async () => {
  tier = await startServiceTier({ SHARD_MAX_NAMED_SHADOWS: String(MAX_NAMED) });
  nc = await connectBus({ url: tier.nats.url, name: "named-shadows-test" });
  redis = await connectRedis(tier.redis.url, "named-shadows-test");
  client = new ShadowClient(nc, 1024);
});

after(async () => {
  client?.close();
  await nc?.close();
  await redis?.quit();
  await tier?.stop();
});

interface Received {
  readonly topic: string;
  readonly body: Record<string, unknown>;
}

const decoder = new TextDecoder();
const bodyOf = (payload: Uint8Array) => JSON.parse(decoder.decode(payload)) as Received["body"];

/** Every message rendered for devices on `subject` (an edge inbox or a device subject). */
const listen = (subject: string, edge: boolean): Received[] => {
  const got: Received[] = [];
  nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error !== null) return;
      const messages = edge
        ? decodeEdgeDeliver(msg.data).flatMap((d) => d.messages)
        : decodeDeliver(msg.data);
      for (const m of messages) got.push({ topic: m.topic, body: bodyOf(m.payload) });
    },
  });
  return got;
};

/** Waits until `got` holds `n` messages (at most 10 s). */
const until = (got: readonly unknown[], n: number, what: string) =>
  pollUntil(() => got.length >= n, { timeoutMs: 10_000, what });

const encoder = new TextEncoder();

/** A device's request as the edge sends it: its answers go to `inbox`. */
const fromDevice = (
  device: string,
  op: CommandHeader["op"],
  dialect: "aws" | "onenet",
  payload: object | Uint8Array | undefined,
  inbox: string,
  shadow?: string,
): void => {
  const header: CommandHeader = { op, device, dialect, source: "device", shadow };
  nc.publish(
    commandSubject(partitionOf(device, 1024)),
    encodeCommand(
      header,
      payload === undefined
        ? new Uint8Array()
        : payload instanceof Uint8Array
          ? payload
          : encoder.encode(JSON.stringify(payload)),
    ),
    { reply: inbox },
  );
};

describe("named shadows through the shard", () => {
  it("live beside the classic shadow with their own documents and versions, listed by name, bounded per device", async () => {
    const key = "p/thing1";
    await client.update(key, { reported: { a: 1 } });
    const classic = await client.update(key, { reported: { a: 2 } });
    assert.ok(classic.ok);
    assert.equal(classic.version, 2);
    const lamp = await client.update(key, { reported: { b: 1 } }, undefined, "lamp");
    assert.ok(lamp.ok);
    assert.equal(lamp.version, 1, "its own version line");
    const [getClassic, getLamp] = await Promise.all([client.get(key), client.get(key, "lamp")]);
    assert.ok(getClassic.ok && getLamp.ok);
    assert.deepEqual(getClassic.document?.reported, { a: 2 });
    assert.deepEqual(getLamp.document?.reported, { b: 1 });
    for (const name of ["fan", "$x:y"])
      assert.ok((await client.update(key, { reported: { n: 1 } }, undefined, name)).ok, name);
    assert.deepEqual(await listShadowNames(redis, key), ["$x:y", "fan", "lamp"]);

    // One more than SHARD_MAX_NAMED_SHADOWS: refused, nothing stored.
    const fourth = await client.update(key, { reported: { n: 1 } }, undefined, "fourth");
    assert.ok(!fourth.ok);
    assert.equal(fourth.error._tag, "InvalidParameter");
    assert.match(JSON.stringify(fourth.error), /the most it may have/);
    const missing = await client.get(key, "fourth");
    assert.ok(!missing.ok);
    assert.equal(missing.error._tag, "ShadowNotFound");

    // A delete makes room; the deleted one reads as missing and keeps its version line.
    assert.ok((await client.delete(key, undefined, "fan")).ok);
    assert.deepEqual(await listShadowNames(redis, key), ["$x:y", "lamp"]);
    const gone = await client.get(key, "fan");
    assert.ok(!gone.ok);
    assert.equal(gone.error._tag, "ShadowNotFound");
    assert.ok((await client.update(key, { reported: { n: 1 } }, undefined, "fourth")).ok);
    assert.ok(
      !(await client.update(key, { reported: { n: 2 } }, undefined, "fan")).ok,
      "full again",
    );
    assert.deepEqual(await listShadowNames(redis, key), ["$x:y", "fourth", "lamp"]);

    const badName = await client.get(key, "ba d");
    assert.ok(!badName.ok);
    assert.equal(badName.error._tag, "InvalidParameter");
  });
});

describe("an AWS device's requests", () => {
  it("on a named shadow are answered on its edge's inbox with the clientToken: update, delete ignoring version, then 404", async () => {
    const key = "p/thing2";
    const inbox = "umbra.edge.named-test";
    const got = listen(inbox, true);
    await nc.flush();
    const N = "$aws/things/thing2/shadow/name/lamp";
    fromDevice(
      key,
      "update",
      "aws",
      { state: { reported: { on: true } }, clientToken: "u1" },
      inbox,
      "lamp",
    );
    await until(got, 2, "update/accepted and update/documents");
    assert.deepEqual(
      got.map((m) => m.topic),
      [`${N}/update/accepted`, `${N}/update/documents`],
    );
    assert.equal(got[0]?.body.clientToken, "u1");
    assert.equal(got[0]?.body.version, 1);
    assert.deepEqual((got[1]?.body.current as { state: unknown } | undefined)?.state, {
      reported: { on: true },
    });

    fromDevice(
      key,
      "update",
      "aws",
      { state: { reported: { on: false } }, version: 9, clientToken: "u2" },
      inbox,
      "lamp",
    );
    fromDevice(key, "delete", "aws", { version: 999, clientToken: "d1" }, inbox, "lamp");
    fromDevice(key, "get", "aws", { clientToken: "g1" }, inbox, "lamp");
    await until(got, 5, "the rejection, the delete and the get");
    assert.deepEqual(
      got.slice(2).map((m) => [m.topic, m.body.code, m.body.clientToken]),
      [
        [`${N}/update/rejected`, 409, "u2"],
        [`${N}/delete/accepted`, undefined, "d1"],
        [`${N}/get/rejected`, 404, "g1"],
      ],
    );
    assert.equal(got[3]?.body.version, 1, "delete/accepted names the version deleted");
    assert.equal(got[4]?.body.message, "No shadow exists with name: lamp");
    assert.deepEqual(await listShadowNames(redis, key), []);
  });
});

describe("pushes", () => {
  it("of a named shadow's cloud write are AWS's only, and its application event names the shadow", async () => {
    const onDevice = listen(deviceSubject("p", "thing3"), false);
    const apps: { device: string; shadow?: string; version: number }[] = [];
    nc.subscribe(appSubject("p"), {
      callback: (error, msg) => {
        if (error === null)
          for (const e of JSON.parse(decoder.decode(msg.data)))
            if (e.device === "thing3") apps.push(e);
      },
    });
    await nc.flush();
    assert.ok((await client.update("p/thing3", { desired: { on: true } }, undefined, "lamp")).ok);
    await until(onDevice, 3, "accepted, delta, documents");
    const N = "$aws/things/thing3/shadow/name/lamp";
    assert.deepEqual(
      onDevice.map((m) => m.topic),
      [`${N}/update/accepted`, `${N}/update/delta`, `${N}/update/documents`],
    );
    await until(apps, 1, "the application event");
    assert.equal(apps[0]?.shadow, "lamp");
  });

  it("of a OneNET report reach AWS subscribers once an AWS session subscribed to update/documents (the sync says so), not before", async () => {
    const key = "p/thing4";
    const inbox = "umbra.edge.named-test-4";
    const onDevice = listen(deviceSubject("p", "thing4"), false);
    const answers = listen(inbox, true);
    await nc.flush();
    fromDevice(key, "update", "onenet", { state: { reported: { t: 1 } } }, inbox);
    fromDevice(key, "sync", "aws", new Uint8Array([1]), inbox);
    fromDevice(key, "update", "onenet", { state: { reported: { t: 2 } } }, inbox);
    await until(onDevice, 2, "AWS's accepted and documents of the second report");
    await until(answers, 2, "both OneNET answers");
    const P = "$aws/things/thing4/shadow";
    assert.deepEqual(
      onDevice.map((m) => [
        m.topic,
        m.body.version ?? (m.body.current as { version: number }).version,
      ]),
      [
        [`${P}/update/accepted`, 2],
        [`${P}/update/documents`, 2],
      ],
      "nothing for the first report, nothing answering the sync",
    );
    assert.deepEqual(
      answers.map((m) => m.topic),
      ["$sys/p/thing4/image/update/accepted", "$sys/p/thing4/image/update/accepted"],
    );
  });
});

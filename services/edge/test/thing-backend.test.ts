/**
 * The NATS backend's routing of OneNET thing uploads (issue 18), over a NATS connection
 * that records publishes and hands frames to the subscriptions: a gateway authenticated
 * against a registry listing its sub-device may pack for it (a command per device, the
 * acks coming back on the edge's inbox); a device it does not act for is 171; an event
 * upload reaches the application event stream and no shard.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import {
  appSubject,
  decodeCommands,
  edgeSubject,
  encodeAcks,
  type NatsConnection,
} from "@umbra/bus";
import { type DeviceId, newDeviceKey, signOneNetToken } from "@umbra/dialects";
import { createLogger } from "@umbra/runtime";
import type { DeviceRegistry } from "@umbra/store";
import type { DevicePublish } from "../src/backend.js";
import { NatsBackend } from "../src/natsBackend.js";
import { jsonBody, recordingSession } from "./backendFixture.js";

const NOW = 1_760_000_000_000;
const KEY = newDeviceKey();
const logger = createLogger("test", "silent");
const gateway: DeviceId = { productId: "gwp", deviceName: "gw1" };
const sub1: DeviceId = { productId: "subp", deviceName: "sub1" };
const sub2: DeviceId = { productId: "subp", deviceName: "sub2" };

/** The gateway, registered with sub1 as its only sub-device. */
const registry = {
  get: async (key: string) => (key === "gwp/gw1" ? { key: KEY, createdAt: 0 } : undefined),
  subDevices: async (key: string) => (key === "gwp/gw1" ? ["subp/sub1"] : []),
} as unknown as DeviceRegistry;

interface Sent {
  readonly subject: string;
  readonly data: Uint8Array | string;
}

type Callback = (error: Error | null, msg: { data: Uint8Array; reply: string }) => void;

/** Records publishes; `hand` gives a frame to whoever subscribed to the subject. */
const capturingNats = () => {
  const published: Sent[] = [];
  const subscribers = new Map<string, Callback>();
  const nc = {
    isClosed: () => false,
    publish: (subject: string, data: Uint8Array | string) => published.push({ subject, data }),
    subscribe: (subject: string, options: { callback: Callback }) => {
      subscribers.set(subject, options.callback);
      return { unsubscribe: () => subscribers.delete(subject), drain: async () => {} };
    },
    flush: async () => {},
    info: { max_payload: 1024 * 1024 },
  } as unknown as NatsConnection;
  const hand = (subject: string, data: Uint8Array) => {
    const callback = subscribers.get(subject);
    assert.ok(callback, `a subscription to ${subject}`);
    callback(null, { data, reply: "" });
  };
  return { nc, published, hand };
};

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const setUp = async (t: TestContext) => {
  const { nc, published, hand } = capturingNats();
  const backend = new NatsBackend(nc, logger, {
    edgeId: "e1",
    partitions: 1024,
    registry,
    retryAfterMs: 600_000,
    deadlineMs: 600_000,
    now: () => NOW,
  });
  backend.start();
  t.after(() => backend.stop());
  const token = signOneNetToken(gateway, { key: KEY, expiresAt: NOW / 1000 + 3_600 });
  const auth = await backend.authenticate({
    clientId: "gw1",
    username: "gwp",
    password: Buffer.from(token),
  });
  assert.equal(auth.ok, true, "the gateway authenticates");
  const {
    session,
    deliveries: answers,
    delivered: answered,
  } = recordingSession(gateway, jsonBody, "answers");
  backend.opened(session);
  t.after(() => backend.closed(session));
  const commands = () =>
    published
      .filter((p) => p.subject.startsWith("umbra.cmd."))
      .flatMap((p) => decodeCommands(p.data as Uint8Array));
  return { backend, session, published, hand, answers, answered, commands };
};

const thingUpload = (
  upload: "event/post" | "pack/post" | "history/post",
  body: unknown,
): DevicePublish => ({
  request: { kind: "thing-upload", device: gateway, upload },
  topic: `$sys/gwp/gw1/thing/${upload}`,
  payload: Buffer.from(JSON.stringify(body)),
  qos: 1,
  packetId: 3,
  dup: false,
});

describe("the NATS backend's thing uploads", () => {
  it("takes a gateway's pack for its registered sub-device: a command per device, answered 200 once the shards' acks reach the inbox", async (t) => {
    const { backend, session, hand, answers, answered, commands } = await setUp(t);
    assert.equal(backend.actsFor(session, sub1), true, "read at connect");
    const pack = {
      id: "31",
      params: [
        { properties: { on: { value: true } } },
        { identity: { productID: "subp", deviceName: "sub1" }, properties: { t: { value: 2 } } },
      ],
    };
    const settled = backend.publish(session, thingUpload("pack/post", pack));
    assert.ok(settled instanceof Promise);
    // The outbox sends a turn's commands when the turn ends.
    await nextTurn();
    const sent = commands();
    assert.deepEqual(
      sent.map((c) => c.header.device),
      ["gwp/gw1", "subp/sub1"],
    );
    assert.equal(answers.length, 0);
    hand(edgeSubject("e1"), encodeAcks(sent.map((c) => c.header.corr as number)));
    assert.equal(await settled, true);
    await answered(1);
    assert.deepEqual(answers, [
      {
        topic: "$sys/gwp/gw1/thing/pack/post/reply",
        body: { id: "31", code: 200, msg: "success" },
      },
    ]);
  });

  it("refuses a pack or history naming a device the gateway does not act for (171): nothing sent", async (t) => {
    const { backend, session, answered, answers, commands, published } = await setUp(t);
    const params = [{ identity: { productID: "subp", deviceName: sub2.deviceName } }];
    assert.equal(
      await backend.publish(
        session,
        thingUpload("pack/post", {
          id: "1",
          params: [{ ...params[0], properties: { t: { value: 1 } } }],
        }),
      ),
      true,
    );
    assert.equal(
      await backend.publish(
        session,
        thingUpload("history/post", {
          id: "2",
          params: [{ ...params[0], properties: { t: [{ value: 1, time: 1 }] } }],
        }),
      ),
      true,
    );
    await answered(2);
    assert.deepEqual(
      answers.map((a) => a.body.code),
      [171, 171],
    );
    await nextTurn();
    assert.equal(commands().length, 0);
    assert.equal(published.filter((p) => p.subject.startsWith("umbra.app.")).length, 0);
  });

  it("sends an event upload to the application event stream, none of it to a shard", async (t) => {
    const { backend, session, answered, commands, published } = await setUp(t);
    const body = { id: "5", params: { alarm: { value: 1, time: 9 } } };
    assert.equal(await backend.publish(session, thingUpload("event/post", body)), true);
    await answered(1);
    await nextTurn();
    const app = published.filter((p) => p.subject === appSubject("gwp"));
    assert.deepEqual(
      app.map((p) => JSON.parse(String(p.data))),
      [
        [
          {
            device: "gw1",
            source: "device",
            op: "event",
            identifier: "alarm",
            value: 1,
            time: 9,
            timestamp: NOW,
          },
        ],
      ],
    );
    assert.equal(commands().length, 0);
  });
});

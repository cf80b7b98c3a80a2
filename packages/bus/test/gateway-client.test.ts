import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type Msg, NoRespondersError, RequestError } from "@nats-io/transport-node";
import { defaultLimits, type GatewayRequest } from "@umbra/core";
import type { DeviceId, RepliedCall } from "@umbra/dialects";
import {
  decodeDeliver,
  deviceSubject,
  encodeDelivered,
  encodeGatewayReply,
  GatewayClient,
  type GatewayOutcome,
  gatewayReplySubject,
  type NatsConnection,
} from "../src/index.js";

type Callback = (error: Error | null, msg: Msg) => void;

interface Request {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly answer: (data: Uint8Array) => void;
  readonly fail: (error: unknown) => void;
}

/**
 * The part of a NATS connection the client uses, in memory: subscriptions by subject,
 * requests held until the test answers them. What the edge and the device would do,
 * the test does by hand.
 */
class FakeNats {
  readonly subscriptions = new Map<string, Set<Callback>>();
  readonly requests: Request[] = [];
  #waiters: ((request: Request) => void)[] = [];

  subscribe(subject: string, options: { callback: Callback }) {
    const set = this.subscriptions.get(subject) ?? new Set<Callback>();
    set.add(options.callback);
    this.subscriptions.set(subject, set);
    return {
      unsubscribe: () => {
        set.delete(options.callback);
        if (set.size === 0) this.subscriptions.delete(subject);
      },
    };
  }

  request(subject: string, data: Uint8Array): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => {
      const request: Request = {
        subject,
        data,
        answer: (answer) => resolve({ subject, data: answer } as Msg),
        fail: reject,
      };
      this.requests.push(request);
      for (const waiter of this.#waiters.splice(0)) waiter(request);
    });
  }

  /** The next request sent (already sent, or when it is). */
  nextRequest(): Promise<Request> {
    const taken = this.requests.shift();
    if (taken !== undefined) return Promise.resolve(taken);
    return new Promise((resolve) =>
      this.#waiters.push(() => resolve(this.requests.shift() as Request)),
    );
  }

  /** A message on `subject` to every subscription (the edge forwarding a reply). */
  publish(subject: string, data: Uint8Array): void {
    for (const callback of [...(this.subscriptions.get(subject) ?? [])])
      callback(null, { subject, data } as Msg);
  }
}

const lamp: DeviceId = { productId: "p1", deviceName: "lamp" };
const utf8 = new TextEncoder();

const setUp = (options: { timeoutMs?: number; maxWaiting?: number } = {}) => {
  const nats = new FakeNats();
  const unreadable: string[] = [];
  const client = new GatewayClient(nats as unknown as NatsConnection, {
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.maxWaiting === undefined ? {} : { maxWaiting: options.maxWaiting }),
    onUnreadable: (_, why) => unreadable.push(why),
  });
  /** The device's `…_reply`, forwarded by its edge. */
  const reply = (call: RepliedCall, body: unknown, device: DeviceId = lamp) =>
    nats.publish(
      gatewayReplySubject(device.productId, device.deviceName),
      encodeGatewayReply(call, utf8.encode(typeof body === "string" ? body : JSON.stringify(body))),
    );
  return { nats, client, unreadable, reply };
};

/** The one message a call's deliver frame carries, its body read as JSON. */
const delivered = (request: Request) => {
  const messages = decodeDeliver(request.data);
  assert.equal(messages.length, 1);
  const [message] = messages as [(typeof messages)[number]];
  return {
    topic: message.topic,
    body: JSON.parse(Buffer.from(message.payload).toString()) as {
      id: string;
      version: string;
      params: unknown;
    },
  };
};

const get: GatewayRequest = { kind: "property/get", identifiers: ["temperature"] };

describe("GatewayClient: calls to a device itself (thing model)", () => {
  // The client's timers do not hold the process open (a NATS connection does, which
  // the fake has not): this handle stands in for the connection's socket.
  let connection: NodeJS.Timeout;
  beforeEach(() => {
    connection = setInterval(() => undefined, 60_000);
  });
  afterEach(() => clearInterval(connection));

  it("sends property set, get and a service on the device's own thing topics, through its device subject", async () => {
    const { nats, client, reply } = setUp();
    const cases: [GatewayRequest, string, unknown, RepliedCall][] = [
      [
        { kind: "property/set", properties: { temperature: "30.5" } },
        "$sys/p1/lamp/thing/property/set",
        { temperature: "30.5" },
        { direct: { kind: "property/set" } },
      ],
      [
        { kind: "property/get", identifiers: ["temperature", "humidity"] },
        "$sys/p1/lamp/thing/property/get",
        ["temperature", "humidity"],
        { direct: { kind: "property/get" } },
      ],
      [
        { kind: "service/invoke", identifier: "reboot", input: { delay: 3 } },
        "$sys/p1/lamp/thing/service/reboot/invoke",
        { delay: 3 },
        { direct: { kind: "service/invoke", identifier: "reboot" } },
      ],
    ];
    for (const [request, topic, params, call] of cases) {
      const outcome = client.callDevice(lamp, request, "2.0");
      const sent = await nats.nextRequest();
      assert.equal(sent.subject, deviceSubject("p1", "lamp"));
      const message = delivered(sent);
      assert.equal(message.topic, topic);
      assert.match(message.body.id, /^[0-9]{13}$/);
      assert.deepEqual(message.body, { id: message.body.id, version: "2.0", params });
      sent.answer(encodeDelivered(true));
      reply(call, { id: message.body.id, code: 200, msg: "ok", data: { out: 1 } });
      assert.deepEqual(await outcome, {
        kind: "answered",
        id: message.body.id,
        reply: { id: message.body.id, code: 200, msg: "ok", data: { out: 1 } },
      });
    }
    assert.equal(client.waiting, 0);
    assert.equal(nats.subscriptions.size, 0, "no subscription left once nothing waits");
  });

  it("takes a reply only for the call made under its id: not a sub-device call's, another kind's or another service's", async () => {
    const { nats, client, reply } = setUp();
    const outcome = client.callDevice(lamp, {
      kind: "service/invoke",
      identifier: "reboot",
      input: {},
    });
    const { id } = delivered(await nats.nextRequest()).body;
    const body = { id, code: 200, data: { wrong: true } };
    reply("service/invoke", body);
    reply({ direct: { kind: "property/get" } }, body);
    reply({ direct: { kind: "service/invoke", identifier: "reset" } }, body);
    // Another device's reply with the same id travels on that device's subject.
    reply({ direct: { kind: "service/invoke", identifier: "reboot" } }, body, {
      productId: "p1",
      deviceName: "other",
    });
    reply({ direct: { kind: "service/invoke", identifier: "reboot" } }, { ...body, id: "17" });
    assert.equal(client.waiting, 1, "still waiting");
    reply({ direct: { kind: "service/invoke", identifier: "reboot" } }, { id, code: 200 });
    assert.deepEqual(await outcome, { kind: "answered", id, reply: { id, code: 200 } });
  });

  it("a gateway's reply still answers only its sub-device call, beside a direct call under way", async () => {
    const { nats, client, reply } = setUp();
    const sub = { productId: "meters", deviceName: "m1" };
    const direct = client.callDevice(lamp, get);
    const viaGateway = client.call(lamp, sub, get);
    const directId = delivered(await nats.nextRequest()).body.id;
    const gatewayCall = delivered(await nats.nextRequest());
    assert.equal(gatewayCall.topic, "$sys/p1/lamp/thing/sub/property/get");
    const gatewayId = gatewayCall.body.id;
    // Each id answered on the other's topic first: neither is taken.
    reply("property/get", { id: directId, code: 200 });
    reply({ direct: { kind: "property/get" } }, { id: gatewayId, code: 200 });
    assert.equal(client.waiting, 2);
    reply("property/get", { id: gatewayId, code: 200, data: { t: 2 } });
    reply({ direct: { kind: "property/get" } }, { id: directId, code: 200, data: { t: 1 } });
    assert.deepEqual(await direct, {
      kind: "answered",
      id: directId,
      reply: { id: directId, code: 200, data: { t: 1 } },
    });
    assert.deepEqual(await viaGateway, {
      kind: "answered",
      id: gatewayId,
      reply: { id: gatewayId, code: 200, data: { t: 2 } },
    });
  });

  it("passes the device's error code and msg through as an answer", async () => {
    const { nats, client, reply } = setUp();
    const outcome = client.callDevice(lamp, { kind: "property/set", properties: { t: 99 } });
    const { id } = delivered(await nats.nextRequest()).body;
    reply({ direct: { kind: "property/set" } }, { id, code: 2406, msg: "out of range" });
    assert.deepEqual(await outcome, {
      kind: "answered",
      id,
      reply: { id, code: 2406, msg: "out of range" },
    });
  });

  it("ends a call whose reply has its id but no valid code, msg or data as a bad reply", async () => {
    const { nats, client, reply } = setUp();
    for (const bad of [
      { code: "200" },
      { code: 200.5 },
      { code: 200, msg: 7 },
      { code: 200, data: [1] },
      { code: 200, data: "x" },
    ]) {
      const outcome = client.callDevice(lamp, get);
      const { id } = delivered(await nats.nextRequest()).body;
      reply({ direct: { kind: "property/get" } }, { id, ...bad });
      const ended = (await outcome) as GatewayOutcome & { kind: "bad-reply" };
      assert.equal(ended.kind, "bad-reply", JSON.stringify(bad));
      assert.equal(ended.id, id);
      assert.ok(ended.problem.length > 0);
    }
  });

  it("reads a device's reply within the engine's payload bound: at it answered, one byte past it a bad reply", async () => {
    const { nats, client, reply } = setUp();
    const bound = defaultLimits.maxPayloadBytes;
    for (const [size, kind] of [
      [bound, "answered"],
      [bound + 1, "bad-reply"],
    ] as const) {
      const outcome = client.callDevice(lamp, get);
      const { id } = delivered(await nats.nextRequest()).body;
      const bare = JSON.stringify({ id, code: 200, msg: "" });
      const body = JSON.stringify({ id, code: 200, msg: "m".repeat(size - bare.length) });
      assert.equal(Buffer.byteLength(body), size);
      reply({ direct: { kind: "property/get" } }, body);
      assert.equal((await outcome).kind, kind, `${size} bytes`);
    }
  });

  it("drops what cannot be matched to a call (not JSON, no id) and keeps waiting", async () => {
    const { nats, client, reply, unreadable } = setUp({ timeoutMs: 100 });
    const outcome = client.callDevice(lamp, get);
    await nats.nextRequest();
    reply({ direct: { kind: "property/get" } }, "{not json");
    reply({ direct: { kind: "property/get" } }, { code: 200 });
    nats.publish(gatewayReplySubject("p1", "lamp"), Uint8Array.of(10, 9));
    assert.deepEqual(unreadable, [
      "the reply is not JSON",
      "the reply has no id",
      "gateway reply of no known call",
    ]);
    assert.equal((await outcome).kind, "timeout");
  });

  it("refuses a call past the seed's rules without sending it: 51 properties, a service unfit for a topic", async () => {
    const { nats, client } = setUp();
    const at = Array.from({ length: defaultLimits.maxGatewayProperties }, (_, i) => `p${i}`);
    const past = [...at, "one-more"];
    const refused: GatewayRequest[] = [
      { kind: "property/get", identifiers: past },
      { kind: "property/set", properties: Object.fromEntries(past.map((p) => [p, 1])) },
      { kind: "property/get", identifiers: [] },
      { kind: "service/invoke", identifier: "re/boot", input: {} },
      { kind: "service/invoke", identifier: "a b", input: {} },
      { kind: "service/invoke", identifier: "x".repeat(129), input: {} },
    ];
    for (const request of refused) {
      const outcome = await client.callDevice(lamp, request);
      assert.equal(outcome.kind, "invalid", JSON.stringify(request).slice(0, 80));
    }
    assert.equal(nats.requests.length, 0, "nothing sent");
    assert.equal(client.waiting, 0);
    // At the bounds: sent.
    for (const request of [
      { kind: "property/get", identifiers: at },
      { kind: "property/set", properties: Object.fromEntries(at.map((p) => [p, 1])) },
      { kind: "service/invoke", identifier: "x".repeat(128), input: {} },
    ] as GatewayRequest[]) {
      void client.callDevice(lamp, request);
      const sent = delivered(await nats.nextRequest());
      assert.ok(sent.topic.startsWith("$sys/p1/lamp/thing/"));
    }
    client.close();
  });

  it("tells an offline device, a session that did not take the call, and a silent device apart", async () => {
    const { nats, client } = setUp({ timeoutMs: 100 });
    const offline = client.callDevice(lamp, get);
    (await nats.nextRequest()).fail(
      new RequestError("no responders", { cause: new NoRespondersError("x") }),
    );
    assert.deepEqual(await offline, { kind: "offline" });

    const deaf = client.callDevice(lamp, get);
    (await nats.nextRequest()).answer(encodeDelivered(false));
    assert.deepEqual(await deaf, {
      kind: "not-delivered",
      topic: "$sys/p1/lamp/thing/property/get",
    });

    const silent = client.callDevice(lamp, get);
    const sent = await nats.nextRequest();
    sent.answer(encodeDelivered(true));
    const ended = await silent;
    assert.equal(ended.kind, "timeout");
    assert.equal((ended as { id: string }).id, delivered(sent).body.id);
    assert.equal(nats.subscriptions.size, 0);
  });

  it("holds at most maxWaiting calls: one more is refused at once, nothing sent", async () => {
    const { nats, client } = setUp({ maxWaiting: 2 });
    void client.callDevice(lamp, get);
    void client.call(lamp, { productId: "m", deviceName: "s" }, get);
    await assert.rejects(client.callDevice(lamp, get), /too many gateway calls waiting \(2\)/);
    assert.equal(nats.requests.length, 2);
    client.close();
  });
});

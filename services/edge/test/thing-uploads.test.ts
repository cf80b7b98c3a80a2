/**
 * OneNET thing uploads the edge reads itself (issue 18), over a recording NATS connection
 * and outbox: `event/post` and `history/post` become application events (no command),
 * `pack/post` one property-post command per device, answered once every one is
 * acknowledged; each reader's bound at and past it; the answers on `…/reply`.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { appSubject, commandSubject, decodeCommand, partitionOf } from "@umbra/bus";
import { defaultLimits } from "@umbra/core";
import { type DeviceId, deviceKey, readThingPropertyPost, type ThingUpload } from "@umbra/dialects";
import { createLogger, limitedLog } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../src/backend.js";
import { PendingCommands } from "../src/bus/retry.js";
import { propertyPostJson, ThingUploads } from "../src/bus/thingUploads.js";
import type { EdgeThingUpload, ThingUploadResult } from "../src/metrics.js";
import { jsonBody, recordingNats, recordingOutbox, recordingSession } from "./backendFixture.js";
import { withDeadline } from "./helpers.js";

const PARTITIONS = 1024;
const INBOX = "umbra.edge.e1";
const NOW = 1_760_000_000_000;
const logger = createLogger("test", "silent");

const gateway: DeviceId = { productId: "gwp", deviceName: "gw1" };
const sub1: DeviceId = { productId: "subp", deviceName: "sub1" };
const sub2: DeviceId = { productId: "subp", deviceName: "sub2" };
const stranger: DeviceId = { productId: "subp", deviceName: "stranger" };

interface Delivery {
  readonly topic: string;
  readonly body: Record<string, unknown>;
}

interface SetUpOptions {
  connected?: boolean;
  maxPayload?: number;
  maxPacks?: number;
  maxPayloadBytes?: number;
  /** The devices besides the publisher's own the session may use (default sub1, sub2). */
  subDevices?: readonly DeviceId[];
}

const setUp = (t: TestContext, options: SetUpOptions = {}) => {
  const { nc, published } = recordingNats(options);
  const { outbox, fakeOutbox } = recordingOutbox();
  const pending = new PendingCommands(
    fakeOutbox,
    INBOX,
    limitedLog(logger),
    { retryAfterMs: 600_000, deadlineMs: 600_000 },
    () => NOW,
  );
  t.after(() => {
    pending.giveUpAll();
    pending.stopSweeping();
  });
  const counts = new Map<string, { value: number }>();
  const counter = (upload: EdgeThingUpload, result: ThingUploadResult) => {
    const key = `${upload} ${result}`;
    let cell = counts.get(key);
    if (cell === undefined) {
      cell = { value: 0 };
      counts.set(key, cell);
    }
    return cell;
  };
  const subDevices = new Set((options.subDevices ?? [sub1, sub2]).map(deviceKey));
  const dropped: string[] = [];
  const things = new ThingUploads(
    {
      nc,
      dropped: (reason) => dropped.push(reason),
      log: limitedLog(logger),
      now: () => NOW,
      counters: counter,
      pending,
      partitions: PARTITIONS,
      mayUse: (session, device) =>
        deviceKey(device) === session.deviceKey || subDevices.has(deviceKey(device)),
    },
    {
      maxPayloadBytes: options.maxPayloadBytes ?? 65_536,
      maxPacks: options.maxPacks ?? 10,
    },
  );
  // `answered(count)` resolves once `count` answers were delivered to the session.
  const {
    session,
    deliveries,
    delivered: answered,
  }: {
    session: DeviceSession;
    deliveries: Delivery[];
    delivered: (count: number) => Promise<void>;
  } = recordingSession(gateway, jsonBody, "answers");
  /** The events of every application-event message, each message a JSON array. */
  const events = () =>
    published.flatMap((p) =>
      (JSON.parse(String(p.data)) as Record<string, unknown>[]).map(
        (e): Record<string, unknown> => ({ subject: p.subject, ...e }),
      ),
    );
  const commands = () =>
    outbox.map((s) => ({
      subject: s.subject,
      reply: s.reply,
      ...decodeCommand(s.data as Uint8Array),
    }));
  /** Acknowledges the commands sent, as a shard's ack frame on the inbox does. */
  const ack = (...indexes: number[]) =>
    pending.acknowledge(indexes.map((i) => commands()[i]?.header.corr as number));
  const count = (upload: EdgeThingUpload, result: ThingUploadResult) =>
    counts.get(`${upload} ${result}`)?.value ?? 0;
  /** `things.publish` for the session; a QoS 1 outcome fails the test if it never comes. */
  const publish = (message: DevicePublish) => {
    const settled = things.publish(session, message);
    return settled === undefined ? undefined : withDeadline(settled, "the upload's outcome");
  };
  return {
    things,
    publish,
    session,
    published,
    outbox,
    pending,
    deliveries,
    answered,
    events,
    commands,
    ack,
    count,
    dropped,
  };
};

const upload = (
  kind: EdgeThingUpload,
  body: unknown,
  qos: 0 | 1 = 1,
  extra: { device?: DeviceId; packetId?: number; dup?: boolean } = {},
): DevicePublish => {
  const device = extra.device ?? gateway;
  return {
    request: { kind: "thing-upload", device, upload: kind },
    topic: `$sys/${device.productId}/${device.deviceName}/thing/${kind}`,
    payload: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
    qos,
    packetId: qos === 1 ? (extra.packetId ?? 1) : undefined,
    dup: extra.dup ?? false,
  };
};

const replyTopic = (device: DeviceId, kind: ThingUpload) =>
  `$sys/${device.productId}/${device.deviceName}/thing/${kind}/reply`;

/** `n` properties (or events) `p0…`, each `{value}` or what `point` makes of its index. */
const points = (n: number, point: (i: number) => unknown = (i) => ({ value: i })) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, point(i)]));

/** `n` sub-devices `s0…` of the product `subp`. */
const subs = (n: number): DeviceId[] =>
  Array.from({ length: n }, (_, i) => ({ productId: "subp", deviceName: `s${i}` }));

const identity = (device: DeviceId) => ({
  productID: device.productId,
  deviceName: device.deviceName,
});

describe("a thing event/post", () => {
  it("is one `event` application event per event on the device's product subject, answered 200 after the PUBACK", async (t) => {
    const { publish, deliveries, answered, events, outbox, count } = setUp(t);
    const body = {
      id: "42",
      params: {
        alarm: { value: { Power: "on", WF: "2" }, time: 1_524_448_722_123 },
        door: { value: "open" },
      },
    };
    const settled = publish(upload("event/post", body));
    assert.equal(await settled, true);
    assert.equal(deliveries.length, 0, "the answer follows the PUBACK");
    await answered(1);
    assert.deepEqual(deliveries, [
      { topic: replyTopic(gateway, "event/post"), body: { id: "42", code: 200, msg: "success" } },
    ]);
    assert.deepEqual(events(), [
      {
        subject: appSubject("gwp"),
        device: "gw1",
        source: "device",
        op: "event",
        identifier: "alarm",
        value: { Power: "on", WF: "2" },
        time: 1_524_448_722_123,
        timestamp: NOW,
      },
      {
        subject: appSubject("gwp"),
        device: "gw1",
        source: "device",
        op: "event",
        identifier: "door",
        value: "open",
        time: NOW,
        timestamp: NOW,
      },
    ]);
    assert.equal(outbox.length, 0, "no command: an event writes no shadow");
    assert.equal(count("event/post", "accepted"), 1);
  });

  it("on a sub-device's topic is that device's: its product's subject, its reply topic; QoS 0 too", async (t) => {
    const { publish, deliveries, answered, events } = setUp(t);
    const body = { id: "1", params: { e: { value: 1, time: 5 } } };
    assert.equal(publish(upload("event/post", body, 0, { device: sub1 })), undefined);
    await answered(1);
    assert.equal(deliveries[0]?.topic, replyTopic(sub1, "event/post"));
    assert.equal(deliveries[0]?.body.code, 200);
    const [event] = events();
    assert.equal(event?.subject, appSubject("subp"));
    assert.equal(event?.device, "sub1");
  });

  it("refused by the reader is answered with its code, PUBACKed, and publishes nothing", async (t) => {
    const { publish, deliveries, answered, published, count } = setUp(t);
    assert.equal(await publish(upload("event/post", "{not json")), true);
    assert.equal(await publish(upload("event/post", { id: "7", params: [] })), true);
    assert.equal(await publish(upload("event/post", { id: "8", params: { e: 3 } })), true);
    await answered(3);
    assert.deepEqual(
      deliveries.map((d) => d.body),
      [
        { id: null, code: 160, msg: "illegal json" },
        { id: "7", code: 165, msg: "invalid parameters" },
        { id: "8", code: 165, msg: "invalid parameters" },
      ],
    );
    assert.equal(published.length, 0);
    assert.equal(count("event/post", "refused"), 3);
  });

  it("while NATS is disconnected publishes nothing, answers 128 at once and withholds the PUBACK", async (t) => {
    const { publish, deliveries, published, dropped, count } = setUp(t, {
      connected: false,
    });
    const body = { id: "9", params: { e: { value: 1 } } };
    const settled = publish(upload("event/post", body));
    // Delivered before the session closes for the missing PUBACK.
    assert.deepEqual(deliveries, [
      {
        topic: replyTopic(gateway, "event/post"),
        body: { id: "9", code: 128, msg: "unspecified error" },
      },
    ]);
    assert.equal(await settled, false);
    assert.equal(publish(upload("event/post", body, 0)), undefined);
    assert.equal(deliveries.length, 2);
    assert.equal(published.length, 0);
    assert.deepEqual(dropped, ["disconnected", "disconnected"]);
    assert.equal(count("event/post", "failed"), 2);
  });

  it("is read up to the packet bound, past the engine's payload bound: at it accepted, one byte past 161", async (t) => {
    const bound = defaultLimits.maxPayloadBytes + 4_000;
    const { publish, deliveries, answered, events } = setUp(t, {
      maxPayloadBytes: bound,
    });
    const text = JSON.stringify({ id: "3", params: { e: { value: "x" } } });
    // Whitespace after the JSON text pads it to the size wanted.
    const padded = (bytes: number) => text + " ".repeat(bytes - text.length);
    assert.equal(await publish(upload("event/post", padded(bound))), true);
    assert.equal(await publish(upload("event/post", padded(bound + 1))), true);
    await answered(2);
    assert.deepEqual(
      deliveries.map((d) => d.body.code),
      [200, 161],
    );
    assert.equal(events().length, 1);
  });
});

describe("a thing history/post", () => {
  it("streams every value as a `history` event, each device's oldest first, and writes no shadow", async (t) => {
    const { publish, deliveries, answered, events, outbox, count } = setUp(t);
    const body = {
      id: "123",
      params: [
        {
          properties: {
            status: [
              { value: 1, time: 300 },
              { value: 0, time: 100 },
            ],
          },
          events: { roll: [{ value: { acc: 3 }, time: 200 }] },
        },
        {
          identity: identity(sub1),
          properties: {
            t: [
              { value: 21, time: 50 },
              { value: 22, time: 60 },
            ],
          },
        },
      ],
    };
    assert.equal(await publish(upload("history/post", body)), true);
    await answered(1);
    assert.deepEqual(deliveries, [
      {
        topic: replyTopic(gateway, "history/post"),
        body: { id: "123", code: 200, msg: "success" },
      },
    ]);
    const history =
      (subject: string, device: string, kind: string, identifier: string) =>
      (value: unknown, time: number) => ({
        subject,
        device,
        source: "device",
        op: "history",
        kind,
        identifier,
        value,
        time,
        timestamp: NOW,
      });
    const status = history(appSubject("gwp"), "gw1", "property", "status");
    const roll = history(appSubject("gwp"), "gw1", "event", "roll");
    const temperature = history(appSubject("subp"), "sub1", "property", "t");
    assert.deepEqual(events(), [
      status(0, 100),
      roll({ acc: 3 }, 200),
      status(1, 300),
      temperature(21, 50),
      temperature(22, 60),
    ]);
    assert.equal(outbox.length, 0, "history is never a shadow write");
    assert.equal(count("history/post", "accepted"), 1);
  });

  it("naming a device that is not a sub-device of the publisher is 171, and publishes nothing", async (t) => {
    const { publish, deliveries, answered, published, count } = setUp(t);
    const body = {
      id: "5",
      params: [
        { identity: identity(sub1), properties: { t: [{ value: 1, time: 1 }] } },
        { identity: identity(stranger), properties: { t: [{ value: 1, time: 1 }] } },
      ],
    };
    assert.equal(await publish(upload("history/post", body)), true);
    await answered(1);
    assert.deepEqual(deliveries[0]?.body, {
      id: "5",
      code: 171,
      msg: "not a sub-device of this gateway",
    });
    assert.equal(published.length, 0);
    assert.equal(count("history/post", "refused"), 1);
  });

  it("takes 10 sub-devices, 100 points per device and 100 values per property; one more of each is refused, nothing published", async (t) => {
    const ten = subs(10);
    const { publish, deliveries, answered, events } = setUp(t, {
      subDevices: [...ten, ...subs(11)],
    });
    const series = (n: number) => Array.from({ length: n }, (_, i) => ({ value: i, time: i }));
    const cases: [unknown[], number][] = [
      [ten.map((d) => ({ identity: identity(d), properties: { t: series(1) } })), 200],
      [subs(11).map((d) => ({ identity: identity(d), properties: { t: series(1) } })), 168],
      [[{ properties: points(60, () => series(1)), events: points(40, () => series(1)) }], 200],
      [[{ properties: points(60, () => series(1)), events: points(41, () => series(1)) }], 169],
      [[{ properties: { t: series(100) } }], 200],
      [[{ events: { e: series(101) } }], 170],
    ];
    for (const [i, [params]] of cases.entries())
      await publish(upload("history/post", { id: `${i}`, params }));
    await answered(cases.length);
    assert.deepEqual(
      deliveries.map((d) => d.body.code),
      cases.map(([, code]) => code),
    );
    // 10 + 100 + 100 values, from the three accepted messages only.
    assert.equal(events().length, 210);
  });
});

/** A gateway's pack: its own properties and an event, sub1's properties, sub2's event. */
const PACK = {
  id: "123",
  version: "1.0",
  params: [
    {
      properties: { Power: { value: "on", time: 1_524_448_722_000 }, WF: { value: 3 } },
      events: { alarm: { value: { Power: "on" }, time: 1_524_448_722_500 } },
    },
    { identity: identity(sub1), properties: { t: { value: 21.5, time: 1_524_448_723_000 } } },
    { identity: identity(sub2), events: { fault: { value: 2 } } },
  ],
};

/** One turn of the event loop: what was due now has happened. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("a thing pack/post", () => {
  it("sends one property-post command per device with properties to its partition, and answers 200 once all are acknowledged", async (t) => {
    const { things, publish, deliveries, answered, events, commands, ack, count } = setUp(t);
    const settled = publish(upload("pack/post", PACK, 1, { packetId: 17 }));
    assert.ok(settled instanceof Promise);
    let outcome: boolean | undefined;
    void settled.then((acknowledged) => {
      outcome = acknowledged;
    });
    const sent = commands();
    assert.deepEqual(
      sent.map(({ subject, reply, header }) => ({
        subject,
        reply,
        op: header.op,
        device: header.device,
        dialect: header.dialect,
        source: header.source,
        token: header.token,
        packetId: header.packetId,
        dup: header.dup === true,
      })),
      [gateway, sub1].map((device) => ({
        subject: commandSubject(partitionOf(deviceKey(device), PARTITIONS)),
        reply: INBOX,
        op: "request",
        device: deviceKey(device),
        dialect: "onenet",
        source: "device",
        token: "pack/post:123",
        packetId: 17,
        dup: false,
      })),
    );
    assert.notEqual(sent[0]?.header.corr, sent[1]?.header.corr);
    // What the shard reads: a property post with each value's time.
    const posts = sent.map(({ payload }) => readThingPropertyPost(payload));
    assert.deepEqual(
      posts.map(
        (p) => p.ok && { id: p.value.id, reported: p.value.reported, times: p.value.times },
      ),
      [
        {
          id: "123",
          reported: { Power: "on", WF: 3 },
          times: { Power: 1_524_448_722_000 },
        },
        { id: "123", reported: { t: 21.5 }, times: { t: 1_524_448_723_000 } },
      ],
    );
    ack(1);
    await nextTurn();
    assert.equal(outcome, undefined, "one command still waits");
    assert.equal(deliveries.length, 0);
    assert.equal(events().length, 0, "events wait for the commands");
    ack(0);
    assert.equal(await settled, true);
    await answered(1);
    assert.deepEqual(deliveries, [
      { topic: replyTopic(gateway, "pack/post"), body: { id: "123", code: 200, msg: "success" } },
    ]);
    assert.deepEqual(
      events().map(({ subject, device, op, identifier, value, time }) => ({
        subject,
        device,
        op,
        identifier,
        value,
        time,
      })),
      [
        {
          subject: appSubject("gwp"),
          device: "gw1",
          op: "event",
          identifier: "alarm",
          value: { Power: "on" },
          time: 1_524_448_722_500,
        },
        {
          subject: appSubject("subp"),
          device: "sub2",
          op: "event",
          identifier: "fault",
          value: 2,
          time: NOW,
        },
      ],
    );
    assert.equal(count("pack/post", "accepted"), 1);
    assert.equal(things.sessionsWithPacks, 0, "nothing kept once answered");
  });

  it("with a command not acknowledged is answered 128 at once, not PUBACKed, and publishes no event", async (t) => {
    const { things, publish, pending, deliveries, events, commands, ack, count } = setUp(t);
    const settled = publish(upload("pack/post", PACK));
    ack(0);
    // The deadline (or the edge stopping) gives up on the other one.
    pending.giveUpAll();
    assert.equal(await settled, false);
    assert.deepEqual(deliveries, [
      {
        topic: replyTopic(gateway, "pack/post"),
        body: { id: "123", code: 128, msg: "unspecified error" },
      },
    ]);
    assert.equal(commands().length, 2);
    assert.equal(events().length, 0);
    assert.equal(count("pack/post", "failed"), 1);
    assert.equal(things.sessionsWithPacks, 0);
  });

  it("sent again by the device (DUP) carries its packet id and DUP flag in every command", async (t) => {
    const { publish, commands } = setUp(t);
    void publish(upload("pack/post", PACK, 1, { packetId: 9, dup: true }));
    const headers = commands().map((c) => c.header);
    assert.deepEqual(
      headers.map((h) => [h.packetId, h.dup === true]),
      [
        [9, true],
        [9, true],
      ],
    );
    // The same pack gives the same bytes: the shard recognises an entry it applied.
    const again = setUp(t);
    void again.publish(upload("pack/post", PACK, 1, { packetId: 9 }));
    assert.deepEqual(
      again.commands().map((c) => Buffer.from(c.payload)),
      commands().map((c) => Buffer.from(c.payload)),
    );
  });

  it("at QoS 0 still sends acknowledged commands (no packet id) and answers once they are", async (t) => {
    const { publish, deliveries, answered, commands, ack } = setUp(t);
    assert.equal(publish(upload("pack/post", PACK, 0)), undefined);
    const headers = commands().map((c) => c.header);
    assert.equal(headers.length, 2);
    for (const h of headers) {
      assert.equal(typeof h.corr, "number");
      assert.equal(h.packetId, undefined);
    }
    await nextTurn();
    assert.equal(deliveries.length, 0);
    ack(0, 1);
    await answered(1);
    assert.equal(deliveries[0]?.body.code, 200);
  });

  it("of events only sends no command and is answered 200", async (t) => {
    const { publish, deliveries, answered, events, commands } = setUp(t);
    const body = { id: "4", params: [{ identity: identity(sub1), events: { e: { value: 1 } } }] };
    assert.equal(await publish(upload("pack/post", body)), true);
    await answered(1);
    assert.equal(deliveries[0]?.body.code, 200);
    assert.equal(commands().length, 0);
    assert.equal(events().length, 1);
  });

  it("naming a device that is not a sub-device of the publisher is 171: nothing sent, nothing published", async (t) => {
    const { publish, deliveries, answered, published, commands } = setUp(t);
    const body = {
      id: "6",
      params: [...PACK.params, { identity: identity(stranger), properties: { t: { value: 1 } } }],
    };
    assert.equal(await publish(upload("pack/post", body)), true);
    await answered(1);
    assert.equal(deliveries[0]?.body.code, 171);
    assert.equal(commands().length, 0);
    assert.equal(published.length, 0);
  });

  it("takes 10 sub-devices and 100 points per device; one more of either is refused and nothing is sent", async (t) => {
    const { publish, deliveries, answered, commands, ack } = setUp(t, {
      subDevices: subs(11),
    });
    const cases: [unknown[], number][] = [
      [subs(10).map((d) => ({ identity: identity(d), properties: { t: { value: 1 } } })), 200],
      [subs(11).map((d) => ({ identity: identity(d), properties: { t: { value: 1 } } })), 168],
      [[{ properties: points(100) }], 200],
      [[{ properties: points(50), events: points(51) }], 169],
    ];
    for (const [i, [params]] of cases.entries()) {
      const before = commands().length;
      const settled = publish(upload("pack/post", { id: `${i}`, params }));
      // An accepted pack's commands are acknowledged, as the shards would.
      ack(...Array.from({ length: commands().length - before }, (_, k) => before + k));
      assert.equal(await settled, true);
    }
    await answered(cases.length);
    assert.deepEqual(
      deliveries.map((d) => d.body.code),
      cases.map(([, code]) => code),
    );
    assert.equal(commands().length, 11, "10 sub-devices, then the publisher itself");
  });
});

describe("a thing pack/post's bounds at the edge", () => {
  /** A pack of sub1's small entry and the publisher's entry of a `bytes`-byte command. */
  const packOfEntryBytes = (bytes: number) => {
    const own = (value: string) => ({ reported: { big: value }, times: undefined });
    const overhead = propertyPostJson("77", "1.0", own("")).length;
    return {
      id: "77",
      params: [
        { identity: identity(sub1), properties: { t: { value: 1 } } },
        { properties: { big: { value: "x".repeat(bytes - overhead) } } },
      ],
    };
  };

  it("sends an entry whose command is at the engine's payload bound; one byte past refuses the whole pack (161), nothing sent", async (t) => {
    const bound = defaultLimits.maxPayloadBytes;
    const { publish, deliveries, answered, commands, ack, count } = setUp(t);
    const settled = publish(upload("pack/post", packOfEntryBytes(bound)));
    assert.deepEqual(
      commands().map((c) => c.payload.length),
      [propertyPostJson("77", "1.0", { reported: { t: 1 }, times: undefined }).length, bound],
    );
    ack(0, 1);
    assert.equal(await settled, true);
    assert.equal(await publish(upload("pack/post", packOfEntryBytes(bound + 1))), true);
    await answered(2);
    assert.deepEqual(
      deliveries.map((d) => d.body),
      [
        { id: "77", code: 200, msg: "success" },
        { id: "77", code: 161, msg: "json out of bound" },
      ],
    );
    assert.equal(commands().length, 2, "nothing of the refused pack was sent");
    assert.equal(count("pack/post", "refused"), 1);
  });

  it("answers a pack past MQTT_THING_MAX_PACKS waiting with 128 and PUBACKs it, sends nothing; an answered pack frees its place", async (t) => {
    const { things, publish, session, deliveries, answered, commands, ack, count } = setUp(t, {
      maxPacks: 2,
    });
    const first = publish(upload("pack/post", PACK, 1, { packetId: 1 }));
    const second = publish(upload("pack/post", PACK, 1, { packetId: 2 }));
    assert.equal(things.packsInFlight(session.id), 2);
    assert.equal(await publish(upload("pack/post", PACK, 1, { packetId: 3 })), true);
    await answered(1);
    assert.deepEqual(deliveries[0]?.body, { id: "123", code: 128, msg: "unspecified error" });
    assert.equal(commands().length, 4, "the third pack sent nothing");
    assert.equal(count("pack/post", "throttled"), 1);
    ack(0, 1);
    assert.equal(await first, true);
    assert.equal(things.packsInFlight(session.id), 1);
    const fourth = publish(upload("pack/post", PACK, 1, { packetId: 4 }));
    assert.equal(commands().length, 6, "the fourth pack was sent");
    ack(2, 3, 4, 5);
    assert.equal(await second, true);
    assert.equal(await fourth, true);
    assert.equal(things.sessionsWithPacks, 0);
  });

  it("refuses a window that is not a positive integer", () => {
    for (const maxPacks of [0, -1, 1.5])
      assert.throws(
        () =>
          new ThingUploads({} as ConstructorParameters<typeof ThingUploads>[0], {
            maxPayloadBytes: 65_536,
            maxPacks,
          }),
        RangeError,
      );
  });
});

describe("a thing upload's application events", () => {
  it("are split into messages at max_payload; one event too large for any message is refused (161) and nothing is published", async (t) => {
    const series = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ value: "v".repeat(40), time: i }));
    // Every event of this history: the same length (times 0–9 are one digit).
    const one = Buffer.byteLength(
      JSON.stringify({
        device: "gw1",
        source: "device",
        op: "history",
        kind: "property",
        identifier: "t",
        value: "v".repeat(40),
        time: 0,
        timestamp: NOW,
      }),
    );
    // Three events per message exactly: `[` a `,` b `,` c `]`.
    const maxPayload = 3 * one + 4;
    const { publish, deliveries, answered, published, events } = setUp(t, { maxPayload });
    const body = { id: "1", params: [{ properties: { t: series(10) } }] };
    assert.equal(await publish(upload("history/post", body)), true);
    assert.deepEqual(
      published.map((p) => Buffer.byteLength(String(p.data))),
      [maxPayload, maxPayload, maxPayload, one + 2],
    );
    assert.deepEqual(
      events().map((e) => e.time),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const tooLarge = {
      id: "2",
      params: [
        {
          properties: {
            t: [
              { value: "v".repeat(40), time: 0 },
              { value: "v".repeat(3 * one), time: 1 },
            ],
          },
        },
      ],
    };
    assert.equal(await publish(upload("history/post", tooLarge)), true);
    await answered(2);
    assert.deepEqual(
      deliveries.map((d) => d.body.code),
      [200, 161],
    );
    assert.equal(published.length, 4, "nothing of the refused upload was published");
  });

  it("of a pack: one too large for any message refuses the pack (161) before any command is sent", async (t) => {
    const { publish, deliveries, answered, commands, published, count } = setUp(t, {
      maxPayload: 1_000,
    });
    const body = {
      id: "8",
      params: [
        { properties: { on: { value: 1 } } },
        { identity: identity(sub1), events: { big: { value: "v".repeat(1_000) } } },
      ],
    };
    assert.equal(await publish(upload("pack/post", body)), true);
    await answered(1);
    assert.deepEqual(deliveries[0]?.body, { id: "8", code: 161, msg: "json out of bound" });
    assert.equal(commands().length, 0);
    assert.equal(published.length, 0);
    assert.equal(count("pack/post", "refused"), 1);
  });

  it("keep names as data: an identifier that is also an object member (constructor) with no time", () => {
    const json = propertyPostJson("1", "1.0", {
      reported: JSON.parse('{"constructor":1,"toString":{"a":2}}'),
      times: JSON.parse('{"toString":5}'),
    });
    assert.deepEqual(JSON.parse(json), {
      id: "1",
      version: "1.0",
      params: { constructor: { value: 1 }, toString: { value: { a: 2 }, time: 5 } },
    });
  });
});

/**
 * The edge backend's side of AWS IoT shadow requests, over a recording outbox and NATS
 * connection: the command an AWS topic becomes (device, op, named shadow), the window
 * of unanswered requests per session (429 past it, answers and deadlines end entries,
 * nothing kept after the session), and the `sync` a granted shadow filter asks for.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CommandHeader,
  type CommandOutbox,
  commandSubject,
  decodeCommand,
  decodeCommands,
  edgeSubject,
  encodeEdgeDeliver,
  type NatsConnection,
  partitionOf,
} from "@umbra/bus";
import {
  awsDialect,
  type DeviceDialect,
  type DeviceId,
  deviceKey,
  parseDeviceTopic,
  type TopicRequest,
} from "@umbra/dialects";
import { createLogger, limitedLog } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../src/backend.js";
import { GatewayActingFor } from "../src/bus/actingFor.js";
import { AwsRequestWindow } from "../src/bus/awsRequests.js";
import { DeviceCommands } from "../src/bus/commands.js";
import { DeviceSubjects } from "../src/bus/deviceSubjects.js";
import { PendingCommands } from "../src/bus/retry.js";
import { awsThrottledTotal } from "../src/metrics.js";
import { NatsBackend } from "../src/natsBackend.js";
import { recordingSession } from "./backendFixture.js";
import { withDeadline } from "./helpers.js";

const PARTITIONS = 1024;
const INBOX = "umbra.edge.e1";
const DEADLINE_MS = 10_000;
const logger = createLogger("test", "silent");
const lamp: DeviceId = { productId: "p1", deviceName: "lamp" };
const THING = "$aws/things/lamp/shadow";

interface Sent {
  readonly subject: string;
  readonly frame: Uint8Array;
}

interface Delivered {
  readonly topic: string;
  readonly body: string;
}

const setUp = (options: { max?: number; dialects?: readonly DeviceDialect[] } = {}) => {
  const clock = { now: 1_700_000_000_000 };
  const sent: Sent[] = [];
  const nc = {
    isClosed: () => false,
    publish: () => {},
    subscribe: () => ({ unsubscribe: () => {} }),
    info: { max_payload: 1024 * 1024 },
  } as unknown as NatsConnection;
  const outbox = {
    publish: (subject: string, frame: Uint8Array) => sent.push({ subject, frame }),
  } as unknown as CommandOutbox;
  const log = limitedLog(logger);
  const now = () => clock.now;
  const pending = new PendingCommands(
    outbox,
    INBOX,
    log,
    { retryAfterMs: 60_000, deadlineMs: 120_000 },
    now,
  );
  const throttled = { value: 0 };
  const window = new AwsRequestWindow({
    max: options.max ?? 10,
    deadlineMs: DEADLINE_MS,
    now,
    throttled,
  });
  const commands = new DeviceCommands(
    nc,
    outbox,
    INBOX,
    PARTITIONS,
    () => {},
    logger,
    pending,
    window,
    options.dialects,
  );
  const devices = new DeviceSubjects(
    nc,
    () => {},
    log,
    new GatewayActingFor(nc, undefined, log),
    window,
  );
  // `deliveries(count)` resolves once `count` messages were delivered to the session.
  const {
    session,
    deliveries: delivered,
    delivered: deliveries,
  }: {
    session: DeviceSession;
    deliveries: Delivered[];
    delivered: (count: number) => Promise<void>;
  } = recordingSession(lamp, (payload) => Buffer.from(payload).toString());
  devices.subscribe(session);
  /** The reply service's answer to one of lamp's requests, on the edge's inbox. */
  const answer = (topic: string) =>
    devices.deliverAnswers(
      encodeEdgeDeliver([{ device: "p1/lamp", messages: [{ topic, body: "{}" }] }]),
    );
  return {
    clock,
    sent,
    window,
    throttled,
    commands,
    devices,
    session,
    delivered,
    deliveries,
    answer,
  };
};

/** A publish as the protocol layer hands it over: an AWS topic's device has the session's product. */
const publishOf = (topic: string, payload: string, qos: 0 | 1, packetId = 1): DevicePublish => {
  const parsed = parseDeviceTopic(topic) as TopicRequest;
  return {
    request: { ...parsed, device: lamp },
    topic,
    payload: Buffer.from(payload),
    qos,
    packetId: qos === 1 ? packetId : undefined,
    dup: false,
  };
};

const headers = (sent: readonly Sent[]): CommandHeader[] =>
  sent.map((s) => decodeCommand(s.frame).header);

describe("an AWS request as a command", () => {
  it("goes to the device's partition as the session's device, op and named shadow from the topic", () => {
    const { sent, commands, session } = setUp();
    commands.publish(session, publishOf(`${THING}/update`, '{"state":{}}', 1, 5));
    commands.publish(session, publishOf(`${THING}/name/fan/get`, "", 0));
    commands.publish(session, publishOf(`${THING}/name/fan/delete`, '{"version":3}', 1, 6));
    commands.publish(session, publishOf(`${THING}/delete`, "", 0));
    for (const s of sent)
      assert.equal(s.subject, commandSubject(partitionOf("p1/lamp", PARTITIONS)));
    assert.deepEqual(
      headers(sent).map(({ op, device, dialect, source, shadow, packetId }) => ({
        op,
        device,
        dialect,
        source,
        shadow,
        packetId,
      })),
      [
        {
          op: "update",
          device: "p1/lamp",
          dialect: "aws",
          source: "device",
          shadow: undefined,
          packetId: 5,
        },
        {
          op: "get",
          device: "p1/lamp",
          dialect: "aws",
          source: "device",
          shadow: "fan",
          packetId: undefined,
        },
        {
          op: "delete",
          device: "p1/lamp",
          dialect: "aws",
          source: "device",
          shadow: "fan",
          packetId: 6,
        },
        {
          op: "delete",
          device: "p1/lamp",
          dialect: "aws",
          source: "device",
          shadow: undefined,
          packetId: undefined,
        },
      ],
    );
    // The payload travels unread, the delete's ignored version included.
    assert.equal(
      Buffer.from(decodeCommand((sent[2] as Sent).frame).payload).toString(),
      '{"version":3}',
    );
  });
});

describe("the window of unanswered AWS requests", () => {
  it("sends 10; the 11th is answered 429 on its rejected topic with its clientToken, not sent, and PUBACKed", async () => {
    const { clock, sent, window, throttled, commands, session, delivered, deliveries } = setUp();
    for (let i = 0; i < 10; i++)
      commands.publish(
        session,
        publishOf(`${THING}/update`, `{"state":{},"clientToken":"t${i}"}`, 0),
      );
    assert.equal(sent.length, 10);
    assert.equal(window.inFlight("s1"), 10);
    const settled = commands.publish(
      session,
      publishOf(`${THING}/name/fan/get`, '{"clientToken":"eleventh","version":4}', 1, 11),
    );
    // A request sent on would wait for a shard's ack that never comes: fail in time.
    assert.equal(
      await withDeadline(Promise.resolve(settled), "the 11th request's PUBACK"),
      true,
      "received and answered: PUBACK",
    );
    assert.equal(sent.length, 10, "nothing more sent to the shard");
    assert.equal(throttled.value, 1);
    await deliveries(1);
    assert.deepEqual(delivered[0], {
      topic: `${THING}/name/fan/get/rejected`,
      body: JSON.stringify({
        code: 429,
        message: "Too Many Requests",
        timestamp: Math.floor(clock.now / 1000),
        clientToken: "eleventh",
      }),
    });
    // Past it as well, at QoS 0; a token-less request gets no token back.
    assert.equal(commands.publish(session, publishOf(`${THING}/delete`, "", 0)), undefined);
    await deliveries(2);
    assert.deepEqual(JSON.parse((delivered[1] as Delivered).body), {
      code: 429,
      message: "Too Many Requests",
      timestamp: Math.floor(clock.now / 1000),
    });
    assert.equal((delivered[1] as Delivered).topic, `${THING}/delete/rejected`);
    assert.equal(sent.length, 10);
    assert.equal(throttled.value, 2);
  });

  it("counts only AWS requests: OneNET's go on past it", () => {
    const { sent, commands, session } = setUp({ max: 1 });
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    const onenet = parseDeviceTopic("$sys/p1/lamp/image/update") as TopicRequest;
    commands.publish(session, { ...publishOf(`${THING}/update`, "{}", 0), request: onenet });
    commands.publish(session, { ...publishOf(`${THING}/update`, "{}", 0), request: onenet });
    assert.deepEqual(
      headers(sent).map((h) => h.dialect),
      ["aws", "onenet", "onenet"],
    );
  });

  it("an accepted or rejected answer on the inbox ends one request; a delta or documents does not", () => {
    const { sent, window, commands, session, answer } = setUp({ max: 2 });
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    commands.publish(session, publishOf(`${THING}/get`, "", 0));
    commands.publish(session, publishOf(`${THING}/get`, "", 0));
    assert.equal(sent.length, 2);
    answer(`${THING}/update/delta`);
    answer(`${THING}/update/documents`);
    assert.equal(window.inFlight("s1"), 2);
    answer(`${THING}/update/accepted`);
    assert.equal(window.inFlight("s1"), 1);
    commands.publish(session, publishOf(`${THING}/get`, "", 0));
    assert.equal(sent.length, 3);
    answer(`${THING}/name/fan/get/rejected`);
    answer(`${THING}/get/accepted`);
    // More answers than requests count nothing below zero.
    answer(`${THING}/get/accepted`);
    assert.equal(window.inFlight("s1"), 0);
  });

  it("an unanswered request stops counting at the command deadline: a lost answer blocks no device", () => {
    const { clock, sent, window, commands, session } = setUp({ max: 2 });
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    clock.now += 1_000;
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    clock.now += DEADLINE_MS - 1_001;
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    assert.equal(sent.length, 2, "one ms before the first one's deadline: still full");
    clock.now += 1;
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    assert.equal(sent.length, 3, "the first one expired and made room for one");
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    assert.equal(sent.length, 3);
    assert.equal(window.inFlight("s1"), 2);
  });

  it("keeps nothing of a session once it closes", () => {
    const { window, commands, devices, session } = setUp();
    commands.publish(session, publishOf(`${THING}/update`, "{}", 0));
    assert.equal(window.sessions, 1);
    devices.unsubscribe(session);
    assert.equal(window.sessions, 0);
    assert.equal(window.inFlight("s1"), 0);
  });

  it("refuses a bound below 1", () => {
    for (const max of [0, -1, 1.5])
      assert.throws(
        () => new AwsRequestWindow({ max, deadlineMs: 1, now: () => 0, throttled: { value: 0 } }),
        RangeError,
      );
  });
});

describe("sync on an AWS shadow subscription", () => {
  // Stands in for the AWS dialect's `syncOnSubscribe` (the shard's side sets it): a
  // filter reaching a delta topic wants one.
  const syncingAws: DeviceDialect = {
    ...awsDialect,
    syncOnSubscribe: (_device, filters) => filters.some((f) => f.endsWith("/update/delta")),
  };

  it("is sent in the AWS dialect once per shadow its filters name, the named shadow in the header", () => {
    const { sent, commands } = setUp({ dialects: [syncingAws] });
    commands.syncIfDeltas(lamp, [
      `${THING}/update/delta`,
      `${THING}/update/accepted`,
      `${THING}/name/fan/update/delta`,
      `${THING}/name/fan/update/documents`,
      `${THING}/name/door/get/+`,
    ]);
    assert.deepEqual(
      headers(sent).map(({ op, device, dialect, shadow }) => ({ op, device, dialect, shadow })),
      [
        { op: "sync", device: "p1/lamp", dialect: "aws", shadow: undefined },
        { op: "sync", device: "p1/lamp", dialect: "aws", shadow: "fan" },
      ],
    );
  });

  it("a filter naming no single shadow (`name/+`) asks for no named one", () => {
    const { sent, commands } = setUp({ dialects: [syncingAws] });
    commands.syncIfDeltas(lamp, [`${THING}/name/+/update/delta`]);
    assert.deepEqual(
      headers(sent).map((h) => h.shadow),
      [undefined],
      "only the classic group is asked, with the filter as it is",
    );
  });
});

describe("the NATS backend's AWS window", () => {
  it("is shared by commands and inbox answers, bounded by awsMaxInflight; its 429 follows the PUBACK; counted", async () => {
    const published: { subject: string; data: Uint8Array }[] = [];
    type Callback = (error: Error | null, msg: { data: Uint8Array; reply?: string }) => void;
    const subscriptions = new Map<string, Callback>();
    const nc = {
      isClosed: () => false,
      publish: (subject: string, data: Uint8Array) => published.push({ subject, data }),
      subscribe: (subject: string, options: { callback: Callback }) => {
        subscriptions.set(subject, options.callback);
        return { unsubscribe: () => subscriptions.delete(subject) };
      },
      flush: async () => {},
      info: { max_payload: 1024 * 1024 },
    } as unknown as NatsConnection;
    const backend = new NatsBackend(nc, logger, {
      edgeId: "e1",
      partitions: PARTITIONS,
      registry: undefined,
      retryAfterMs: 60_000,
      deadlineMs: 60_000,
      awsMaxInflight: 1,
    });
    backend.start();
    const events: string[] = [];
    let twoEvents: () => void = () => {};
    const record = (event: string) => {
      events.push(event);
      if (events.length === 2) twoEvents();
    };
    const session: DeviceSession = {
      id: "s1",
      device: lamp,
      deviceKey: deviceKey(lamp),
      deliver: (topic) => {
        record(topic);
        return true;
      },
      close: () => {},
    };
    backend.opened(session);
    const throttled = awsThrottledTotal();
    const before = throttled.value;
    const commandsSent = () =>
      published
        .filter((p) => p.subject.startsWith("umbra.cmd."))
        .flatMap((p) => decodeCommands(p.data));
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

    backend.publish(session, publishOf(`${THING}/get`, "", 0));
    const second = backend.publish(session, publishOf(`${THING}/get`, '{"clientToken":"b"}', 1));
    const both = new Promise<void>((resolve) => {
      twoEvents = resolve;
    });
    void second?.then((acked) => record(`puback ${acked}`));
    await withDeadline(both, "the PUBACK and the 429");
    assert.deepEqual(events, ["puback true", `${THING}/get/rejected`]);
    assert.equal(throttled.value, before + 1);
    await nextTurn();
    assert.equal(commandsSent().length, 1);

    // The reply service answers the first request on the edge's inbox: room for one more.
    const inbox = subscriptions.get(edgeSubject("e1")) as Callback;
    inbox(null, {
      data: encodeEdgeDeliver([
        { device: "p1/lamp", messages: [{ topic: `${THING}/get/accepted`, body: "{}" }] },
      ]),
    });
    await nextTurn();
    assert.equal(events.at(-1), `${THING}/get/accepted`);
    backend.publish(session, publishOf(`${THING}/get`, "", 0));
    await nextTurn();
    assert.equal(commandsSent().length, 2);
    backend.closed(session);
    await backend.stop();
  });
});

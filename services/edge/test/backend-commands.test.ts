/**
 * The edge backend's topic → command piece (`bus/commands.ts`) and its QoS 1 waiting
 * room (`bus/retry.ts`), over a recording outbox and NATS connection: which subject,
 * which header, which reply subject, and when a PUBACK may go out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CommandOutbox,
  commandSubject,
  decodeCommand,
  decodeGatewayReply,
  gatewayReplySubject,
  type NatsConnection,
  partitionOf,
} from "@umbra/bus";
import { type DeviceId, deviceKey, parseDeviceTopic, type TopicRequest } from "@umbra/dialects";
import { createLogger, limitedLog } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../src/backend.js";
import { AwsRequestWindow } from "../src/bus/awsRequests.js";
import { DeviceCommands } from "../src/bus/commands.js";
import { PendingCommands } from "../src/bus/retry.js";

const PARTITIONS = 1024;
const INBOX = "umbra.edge.e1";
const logger = createLogger("test", "silent");

interface Sent {
  readonly subject: string;
  readonly frame: Uint8Array;
  readonly reply: string | undefined;
}

const setUp = (connected = true) => {
  const outbox: Sent[] = [];
  const direct: Sent[] = [];
  const dropped: string[] = [];
  const nc = {
    isClosed: () => !connected,
    publish: (subject: string, data: Uint8Array, options?: { reply?: string }) =>
      direct.push({ subject, frame: data, reply: options?.reply }),
    info: { max_payload: 1024 * 1024 },
  } as unknown as NatsConnection;
  const fakeOutbox = {
    publish: (subject: string, frame: Uint8Array, reply?: string) =>
      outbox.push({ subject, frame, reply }),
  } as unknown as CommandOutbox;
  const pending = new PendingCommands(
    fakeOutbox,
    INBOX,
    limitedLog(logger),
    { retryAfterMs: 60_000, deadlineMs: 120_000 },
    () => 0,
  );
  const commands = new DeviceCommands(
    nc,
    fakeOutbox,
    INBOX,
    PARTITIONS,
    (reason) => dropped.push(reason),
    logger,
    pending,
    new AwsRequestWindow({ max: 10, deadlineMs: 120_000, now: () => 0, throttled: { value: 0 } }),
  );
  return { outbox, direct, dropped, pending, commands };
};

const sessionOf = (device: DeviceId): DeviceSession => ({
  id: "s1",
  device,
  deviceKey: deviceKey(device),
  deliver: () => true,
  close: () => {},
});

const publishOf = (
  topic: string,
  payload: string,
  qos: 0 | 1,
  packetId?: number,
): DevicePublish => ({
  request: parseDeviceTopic(topic) as TopicRequest,
  topic,
  payload: Buffer.from(payload),
  qos,
  packetId: qos === 1 ? packetId : undefined,
  dup: false,
});

const lamp = { productId: "p1", deviceName: "lamp" };

describe("a device's publish as a command", () => {
  it("goes on its device's partition subject with the dialect, op and QoS 1 ids, the edge's inbox as reply; PUBACK waits for the ack", async () => {
    const { outbox, pending, commands } = setUp();
    const settled = commands.publish(
      sessionOf(lamp),
      publishOf("$sys/p1/lamp/image/update", '{"state":{"reported":{"t":1}}}', 1, 7),
    );
    assert.ok(settled instanceof Promise);
    assert.equal(outbox.length, 1);
    const sent = outbox[0] as Sent;
    assert.equal(sent.subject, commandSubject(partitionOf("p1/lamp", PARTITIONS)));
    assert.equal(sent.reply, INBOX);
    const { header, payload } = decodeCommand(sent.frame);
    assert.equal(header.op, "update");
    assert.equal(header.dialect, "onenet");
    assert.equal(header.source, "device");
    assert.equal(header.device, "p1/lamp");
    assert.equal(header.packetId, 7);
    assert.equal(Buffer.from(payload).toString(), '{"state":{"reported":{"t":1}}}');
    // Nothing settles it but the shard's ack of its correlation id.
    let done: boolean | undefined;
    void settled.then((v) => {
      done = v;
    });
    await Promise.resolve();
    assert.equal(done, undefined);
    pending.acknowledge([(header.corr as number) + 1]);
    await Promise.resolve();
    assert.equal(done, undefined, "another id's ack settles nothing");
    pending.acknowledge([header.corr as number]);
    assert.equal(await settled, true);
  });

  it("an Alibaba request names its dialect and leaves the operation to the payload", () => {
    const { outbox, commands } = setUp();
    commands.publish(sessionOf(lamp), publishOf("/shadow/update/p1/lamp", '{"method":"get"}', 0));
    const { header } = decodeCommand((outbox[0] as Sent).frame);
    assert.equal(header.dialect, "aliyun");
    assert.equal(header.op, "request");
    assert.equal(header.corr, undefined);
  });

  it("a gateway's write for its sub-device goes to the sub-device's partition, as that device", () => {
    const { outbox, commands } = setUp();
    const gateway = { productId: "p1", deviceName: "gw" };
    commands.publish(sessionOf(gateway), publishOf("$sys/p2/meter/image/update", "{}", 0));
    const sent = outbox[0] as Sent;
    assert.equal(sent.subject, commandSubject(partitionOf("p2/meter", PARTITIONS)));
    assert.equal(decodeCommand(sent.frame).header.device, "p2/meter");
  });

  it("QoS 0 while NATS is disconnected is dropped and counted, not buffered", () => {
    const { outbox, direct, dropped, commands } = setUp(false);
    const result = commands.publish(
      sessionOf(lamp),
      publishOf("$sys/p1/lamp/image/update", "{}", 0),
    );
    assert.equal(result, undefined);
    assert.deepEqual(dropped, ["disconnected"]);
    assert.equal(outbox.length + direct.length, 0);
  });

  it("a gateway's call reply goes to the API's gateway subject of that gateway; an own topic asking nothing sends nothing; both are acknowledged at once", async () => {
    const { outbox, direct, commands } = setUp();
    const gateway = { productId: "p1", deviceName: "gw" };
    const replied = commands.publish(
      sessionOf(gateway),
      publishOf("$sys/p1/gw/thing/sub/property/get_reply", '{"id":"1","code":200}', 1, 3),
    );
    assert.equal(await replied, true);
    assert.equal(direct.length, 1);
    assert.equal((direct[0] as Sent).subject, gatewayReplySubject("p1", "gw"));
    assert.equal(decodeGatewayReply((direct[0] as Sent).frame).call, "property/get");
    const nothing = commands.publish(
      sessionOf(lamp),
      publishOf("$sys/p1/lamp/custom/x", "{}", 1, 4),
    );
    assert.equal(await nothing, true);
    assert.equal(outbox.length, 0);
    assert.equal(direct.length, 1);
  });

  it("a device's reply to a call made to itself goes to the API's subject of that device with its call and service; acknowledged at once", async () => {
    const { outbox, direct, commands } = setUp();
    const replied = commands.publish(
      sessionOf(lamp),
      publishOf("$sys/p1/lamp/thing/service/reboot/invoke_reply", '{"id":"1","code":200}', 1, 5),
    );
    assert.equal(await replied, true);
    assert.equal(outbox.length, 0, "no command: the shadow is not asked");
    assert.equal(direct.length, 1);
    assert.equal((direct[0] as Sent).subject, gatewayReplySubject("p1", "lamp"));
    const frame = decodeGatewayReply((direct[0] as Sent).frame);
    assert.deepEqual(frame.call, { direct: { kind: "service/invoke", identifier: "reboot" } });
    assert.equal(Buffer.from(frame.payload).toString(), '{"id":"1","code":200}');
  });
});

describe("sync on a delta subscription", () => {
  it("asks the shard once, in the dialect that wants it, only for a filter covering the delta topic", () => {
    const { outbox, commands } = setUp();
    commands.syncIfDeltas(lamp, ["$sys/p1/lamp/image/update/accepted", "/shadow/get/p1/lamp"]);
    assert.equal(outbox.length, 0);
    commands.syncIfDeltas(lamp, ["$sys/p1/lamp/image/#"]);
    assert.equal(outbox.length, 1);
    const { header } = decodeCommand((outbox[0] as Sent).frame);
    assert.deepEqual(
      { op: header.op, dialect: header.dialect, device: header.device },
      { op: "sync", dialect: "onenet", device: "p1/lamp" },
    );
  });
});

describe("the QoS 1 waiting room", () => {
  it("gives up on everything at stop: no PUBACK for what no shard acknowledged", async () => {
    const { pending, commands } = setUp();
    const settled = commands.publish(
      sessionOf(lamp),
      publishOf("$sys/p1/lamp/image/update", "{}", 1, 9),
    );
    pending.giveUpAll();
    assert.equal(await settled, false);
  });
});

/**
 * The edge backend's side of Azure IoT Hub devices (issue 17), over a recording outbox
 * and NATS connection: a twin request's `$rid` travels in the command header, telemetry
 * goes to the product's application event stream (not to a shard), and a Plug and Play
 * model id announced at CONNECT becomes one `sync` command once the session is open.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  appSubject,
  commandSubject,
  decodeCommand,
  decodeCommands,
  edgeSubject,
  MAX_TOKEN_BYTES,
  partitionOf,
} from "@umbra/bus";
import { type DeviceId, decodeAzureModelSync, deviceKey, type TopicRequest } from "@umbra/dialects";
import { createLogger, limitedLog } from "@umbra/runtime";
import type { DevicePublish, DeviceSession } from "../src/backend.js";
import { AwsRequestWindow } from "../src/bus/awsRequests.js";
import { DeviceCommands } from "../src/bus/commands.js";
import { PendingCommands } from "../src/bus/retry.js";
import { DeviceTelemetry, encodeTelemetryEvent } from "../src/bus/telemetry.js";
import type { TelemetryCounters } from "../src/metrics.js";
import { NatsBackend } from "../src/natsBackend.js";
import { recordingNats, recordingOutbox, type Sent } from "./backendFixture.js";

const PARTITIONS = 1024;
const INBOX = "umbra.edge.e1";
const NOW = 1_760_000_000_000;
const MODEL = "dtmi:com:example:Thermostat;1";
const logger = createLogger("test", "silent");
const thermostat: DeviceId = { productId: "p1", deviceName: "thermostat" };

const sessionOf = (device: DeviceId, extra: Partial<DeviceSession> = {}): DeviceSession => ({
  id: "s1",
  device,
  deviceKey: deviceKey(device),
  deliver: () => true,
  close: () => {},
  ...extra,
});

/** An Azure twin request as the protocol layer hands it over: the session's device. */
const twinRequest = (
  op: "get" | "update",
  token: string | undefined,
  qos: 0 | 1,
  packetId = 1,
): DevicePublish => ({
  request: { kind: "command", dialect: "azure", device: thermostat, op, token },
  topic: `$iothub/twin/GET/?$rid=${token}`,
  payload: Buffer.from(op === "get" ? " " : '{"t":21}'),
  qos,
  packetId: qos === 1 ? packetId : undefined,
  dup: false,
});

const commandsSetUp = (retryAfterMs = 60_000) => {
  const clock = { now: 0 };
  const { outbox, fakeOutbox, sent } = recordingOutbox();
  const pending = new PendingCommands(
    fakeOutbox,
    INBOX,
    limitedLog(logger),
    { retryAfterMs, deadlineMs: 120_000 },
    () => clock.now,
  );
  const commands = new DeviceCommands(
    recordingNats().nc,
    fakeOutbox,
    INBOX,
    PARTITIONS,
    () => {},
    logger,
    pending,
    new AwsRequestWindow({ max: 10, deadlineMs: 120_000, now: () => 0, throttled: { value: 0 } }),
  );
  return { clock, outbox, pending, commands, sent };
};

const headerOf = (sent: Sent | undefined) => {
  assert.ok(sent, "a command was sent");
  return decodeCommand(sent.data as Uint8Array).header;
};

describe("an Azure twin request's $rid", () => {
  it("travels in the command header at QoS 0 and QoS 1", async () => {
    const { outbox, pending, commands } = commandsSetUp();
    const session = sessionOf(thermostat);
    assert.equal(commands.publish(session, twinRequest("get", "0b5c-41", 0)), undefined);
    const settled = commands.publish(session, twinRequest("update", "31faf641", 1, 7));
    assert.ok(settled instanceof Promise, "QoS 1 waits for the shard's ack");
    assert.deepEqual(
      outbox.map((s) => {
        const h = headerOf(s);
        return { op: h.op, dialect: h.dialect, device: h.device, token: h.token, pid: h.packetId };
      }),
      [
        { op: "get", dialect: "azure", device: "p1/thermostat", token: "0b5c-41", pid: undefined },
        { op: "update", dialect: "azure", device: "p1/thermostat", token: "31faf641", pid: 7 },
      ],
    );
    for (const s of outbox) {
      assert.equal(s.subject, commandSubject(partitionOf("p1/thermostat", PARTITIONS)));
      assert.equal(s.reply, INBOX);
    }
    pending.giveUpAll();
    assert.equal(await settled, false);
  });

  it("stays in the header of a QoS 1 command sent again marked DUP", async (t) => {
    const { clock, outbox, pending, commands, sent } = commandsSetUp(100);
    t.after(() => pending.stopSweeping());
    const settled = commands.publish(sessionOf(thermostat), twinRequest("update", "r-9", 1, 3));
    await sent(1);
    clock.now += 100;
    await sent(2);
    const resent = headerOf(outbox[1]);
    assert.equal(resent.dup, true);
    assert.equal(resent.token, "r-9");
    assert.equal(resent.corr, headerOf(outbox[0]).corr);
    pending.giveUpAll();
    assert.equal(await settled, false);
  });

  it("is absent from a command whose topic carries none", () => {
    const { outbox, commands } = commandsSetUp();
    commands.publish(sessionOf(thermostat), twinRequest("get", undefined, 0));
    assert.equal(headerOf(outbox[0]).token, undefined);
  });

  it("at the header's bound is sent; past it the publish is dropped without throwing, a QoS 1 one acknowledged", async () => {
    const { outbox, commands } = commandsSetUp();
    const session = sessionOf(thermostat);
    const atBound = "r".repeat(MAX_TOKEN_BYTES);
    commands.publish(session, twinRequest("get", atBound, 0));
    assert.equal(headerOf(outbox[0]).token, atBound);
    // Counted in UTF-8 bytes: 128 two-byte characters are 256 bytes.
    for (const past of ["r".repeat(MAX_TOKEN_BYTES + 1), "é".repeat(128)]) {
      assert.equal(commands.publish(session, twinRequest("get", past, 0)), undefined);
      assert.equal(await commands.publish(session, twinRequest("update", past, 1)), true);
    }
    assert.equal(outbox.length, 1, "nothing past the bound was sent");
  });
});

/** A telemetry publish as the protocol layer hands it over. */
const telemetryOf = (
  payload: Buffer | string,
  qos: 0 | 1,
  properties: { [key: string]: string } = {},
): DevicePublish => {
  const request: TopicRequest = { kind: "telemetry", device: thermostat, properties };
  return {
    request,
    topic: "devices/thermostat/messages/events/",
    payload: Buffer.from(payload),
    qos,
    packetId: qos === 1 ? 1 : undefined,
    dup: false,
  };
};

const telemetrySetUp = (options: { connected?: boolean; maxPayload?: number } = {}) => {
  const { nc, published } = recordingNats(options);
  const dropped: string[] = [];
  const counters: TelemetryCounters = { published: { value: 0 }, dropped: { value: 0 } };
  const telemetry = new DeviceTelemetry(
    nc,
    (reason) => dropped.push(reason),
    limitedLog(logger),
    () => NOW,
    counters,
  );
  /** The events of every message published, each message a JSON array. */
  const events = () =>
    published.flatMap((p) => JSON.parse(String(p.data)) as Record<string, unknown>[]);
  return { published, dropped, counters, telemetry, events };
};

describe("Azure telemetry", () => {
  it("is one event on the product's application event stream, its property bag beside it; QoS 1 is acknowledged", async () => {
    const { published, counters, telemetry, events } = telemetrySetUp();
    const properties = { "$.ct": "application/json", "$.ce": "utf-8", alert: "high" };
    const settled = telemetry.publish(
      sessionOf(thermostat),
      telemetryOf('{"temperature":21.5}', 1, properties),
    );
    assert.equal(await settled, true);
    assert.equal(published.length, 1);
    assert.equal(published[0]?.subject, appSubject("p1"));
    assert.equal(published[0]?.reply, undefined);
    assert.deepEqual(events(), [
      {
        device: "thermostat",
        source: "device",
        op: "telemetry",
        timestamp: NOW,
        properties,
        body: { temperature: 21.5 },
      },
    ]);
    assert.equal(counters.published.value, 1);
    assert.equal(telemetry.publish(sessionOf(thermostat), telemetryOf("{}", 0)), undefined);
    assert.equal(counters.published.value, 2);
  });

  it("carries a JSON payload as JSON, text as a string, anything not UTF-8 as bodyBase64", () => {
    const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28]);
    const body = (payload: Buffer | string) =>
      JSON.parse(encodeTelemetryEvent("d", NOW, {}, Buffer.from(payload)))[0];
    // Spaces and line breaks of the device's JSON stay valid where the text is embedded.
    assert.deepEqual(body('{\n  "a": [1, 2],\n  "b": null\n}\n').body, { a: [1, 2], b: null });
    assert.equal(body("42").body, 42);
    assert.equal(body('"quoted"').body, "quoted");
    assert.equal(body("temperature=21.5").body, "temperature=21.5");
    assert.equal(body('{"cut":').body, '{"cut":');
    assert.equal(body("").body, "");
    // A byte order mark is no part of the JSON it starts.
    assert.deepEqual(body(Buffer.from('\ufeff{"a":1}')).body, { a: 1 });
    const raw = body(binary);
    assert.equal(raw.body, undefined);
    assert.deepEqual(Buffer.from(raw.bodyBase64, "base64"), binary);
  });

  it("keeps property names as data, `__proto__` included", () => {
    const event = JSON.parse(
      encodeTelemetryEvent("d", NOW, JSON.parse('{"__proto__":"x","$.mid":"7"}'), Buffer.from("")),
    )[0];
    assert.deepEqual(Object.keys(event.properties), ["__proto__", "$.mid"]);
  });

  it("while NATS is disconnected is dropped and counted: QoS 0 as a command is, QoS 1 without PUBACK", async () => {
    const { published, dropped, counters, telemetry } = telemetrySetUp({ connected: false });
    assert.equal(telemetry.publish(sessionOf(thermostat), telemetryOf("{}", 0)), undefined);
    assert.equal(await telemetry.publish(sessionOf(thermostat), telemetryOf("{}", 1)), false);
    assert.equal(published.length, 0);
    assert.deepEqual(dropped, ["disconnected", "disconnected"]);
    assert.equal(counters.dropped.value, 2);
    assert.equal(counters.published.value, 0);
  });

  it("over the server's max_payload is dropped and counted, and acknowledged: it would never fit", async () => {
    // The event around a 100-byte payload: device, op, timestamp and an empty bag.
    const event = encodeTelemetryEvent("thermostat", NOW, {}, Buffer.from("x".repeat(100)));
    const bytes = Buffer.byteLength(event);
    const fits = telemetrySetUp({ maxPayload: bytes });
    assert.equal(
      await fits.telemetry.publish(sessionOf(thermostat), telemetryOf("x".repeat(100), 1)),
      true,
    );
    assert.equal(fits.published.length, 1, "at max_payload: published");
    const tooBig = telemetrySetUp({ maxPayload: bytes });
    assert.equal(
      await tooBig.telemetry.publish(sessionOf(thermostat), telemetryOf("x".repeat(101), 1)),
      true,
    );
    assert.equal(tooBig.published.length, 0);
    assert.deepEqual(tooBig.dropped, ["oversize"]);
    assert.equal(tooBig.counters.dropped.value, 1);
  });
});

/** A NatsBackend over a recording connection, its inbox subscribed. */
const backendSetUp = async () => {
  const { nc, published } = recordingNats();
  const backend = new NatsBackend(nc, logger, {
    edgeId: "e1",
    partitions: PARTITIONS,
    registry: undefined,
    retryAfterMs: 60_000,
    deadlineMs: 60_000,
    now: () => NOW,
  });
  backend.start();
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const commands = () =>
    published
      .filter((p) => p.subject.startsWith("umbra.cmd."))
      .flatMap((p) => decodeCommands(p.data as Uint8Array).map((c) => ({ ...c, reply: p.reply })));
  return { backend, published, commands, nextTurn };
};

describe("the NATS backend", () => {
  it("sends telemetry to the application event stream, none of it to a shard", async () => {
    const { backend, published, commands, nextTurn } = await backendSetUp();
    const session = sessionOf(thermostat);
    backend.opened(session);
    assert.equal(await backend.publish(session, telemetryOf('{"t":1}', 1, { k: "v" })), true);
    await nextTurn();
    const app = published.filter((p) => p.subject === appSubject("p1"));
    assert.equal(app.length, 1);
    assert.deepEqual(JSON.parse(String(app[0]?.data)), [
      {
        device: "thermostat",
        source: "device",
        op: "telemetry",
        timestamp: NOW,
        properties: { k: "v" },
        body: { t: 1 },
      },
    ]);
    assert.equal(commands().length, 0);
    backend.closed(session);
    await backend.stop();
  });

  it("sends the shard one sync in the CONNECT's dialect with the model id as payload, once the session opens", async () => {
    const { backend, commands, nextTurn } = await backendSetUp();
    const session = sessionOf(thermostat, { dialect: "azure", modelId: MODEL });
    backend.opened(session);
    await nextTurn();
    const sent = commands();
    assert.equal(sent.length, 1);
    const [{ header, payload, reply }] = sent as [(typeof sent)[number]];
    assert.deepEqual(
      { op: header.op, device: header.device, dialect: header.dialect, source: header.source },
      { op: "sync", device: "p1/thermostat", dialect: "azure", source: "device" },
    );
    assert.equal(header.corr, undefined, "nothing waits for its ack");
    assert.equal(Buffer.from(payload).toString("utf8"), MODEL);
    assert.equal(decodeAzureModelSync(payload), MODEL, "as the shard reads it");
    assert.equal(reply, edgeSubject("e1"), "answers come back to this edge");
    backend.closed(session);
    await backend.stop();
  });

  it("sends no sync at connect for a device that announced no model", async () => {
    const { backend, commands, nextTurn } = await backendSetUp();
    const session = sessionOf(thermostat, { dialect: "azure" });
    backend.opened(session);
    await nextTurn();
    assert.equal(commands().length, 0);
    backend.closed(session);
    await backend.stop();
  });
});

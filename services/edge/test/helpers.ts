import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import type { TestContext } from "node:test";
import { type DeviceId, recogniseConnect } from "@umbra/dialects";
import { createLogger, type LogLevel } from "@umbra/runtime";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { parser as createParser, generate, type Packet } from "mqtt-packet";
import {
  type AuthResult,
  type ConnectCredentials,
  createEdgeServer,
  type DevicePublish,
  type DeviceSession,
  type EdgeBackend,
  type EdgeLimits,
  type EdgeServer,
  type EdgeSession,
  Reason,
} from "../src/index.js";

/** Every test device belongs to this product. */
export const PRODUCT = "P1";
export const PASSWORD = "secret";
/** Longest any test waits for one event before failing. */
export const DEADLINE_MS = 5_000;

/** For test names: "MQTT 3.1.1" rather than the protocol level 4. */
export const versionName = (version: 3 | 4 | 5): string =>
  version === 5 ? "MQTT 5" : version === 4 ? "MQTT 3.1.1" : "MQTT 3.1";

/** `$sys/P1/{dn}/{suffix}` */
export const topicOf = (deviceName: string, suffix: string): string =>
  `$sys/${PRODUCT}/${deviceName}/${suffix}`;

/** Rejects with a message naming `what` unless `promise` settles within `ms`. */
export const withDeadline = async <T>(
  promise: Promise<T>,
  what: string,
  ms = DEADLINE_MS,
): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
};

export interface PublishCall {
  readonly session: DeviceSession;
  /** The topic as the edge read it (an AWS topic's device has the session's product). */
  readonly request: DevicePublish["request"];
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly packetId: number | undefined;
  readonly dup: boolean;
  /** QoS 1 only: settles what backend.publish returned. */
  readonly settle: (acknowledged: boolean) => void;
  settled: boolean;
}

/**
 * An EdgeBackend that records every call. Devices authenticate with username = product
 * id, client id = device name, password "secret"; some client ids stand for refusals.
 * QoS 1 publishes resolve true at once unless `autoAck` is off, then the test settles them.
 */
export class TestBackend extends EventEmitter implements EdgeBackend {
  readonly openedSessions: DeviceSession[] = [];
  readonly closedSessions: DeviceSession[] = [];
  readonly publishes: PublishCall[] = [];
  /** "opened {deviceKey} {id}" / "closed {deviceKey} {id}", in call order. */
  readonly lifecycle: string[] = [];
  authenticateCalls = 0;
  /** Settle QoS 1 publishes true at once; when false the test settles them. */
  autoAck = true;
  /** Most QoS 1 publishes ever pending at once. */
  maxPending = 0;
  /** While set, authenticate waits for it. */
  authGate: Promise<void> | undefined;

  /** What every authenticate call was given, in order. */
  readonly credentials: ConnectCredentials[] = [];
  /** Every `subscribed` call: the session and the filters it was granted. */
  readonly subscribedCalls: { session: DeviceSession; filters: readonly string[] }[] = [];
  /** Gateway device key → the device keys it acts for (`actsFor`). */
  readonly subDevices = new Map<string, Set<string>>();

  authenticate(credentials: ConnectCredentials): Promise<AuthResult> {
    this.authenticateCalls++;
    this.credentials.push(credentials);
    const outcome = decide(credentials);
    this.emit("change");
    return this.authGate === undefined
      ? Promise.resolve(outcome)
      : this.authGate.then(() => outcome);
  }

  opened(session: DeviceSession): void {
    this.openedSessions.push(session);
    this.lifecycle.push(`opened ${session.deviceKey} ${session.id}`);
    this.emit("change");
  }

  closed(session: DeviceSession): void {
    this.closedSessions.push(session);
    this.lifecycle.push(`closed ${session.deviceKey} ${session.id}`);
    this.emit("change");
  }

  subscribed(session: DeviceSession, filters: readonly string[]): void {
    this.subscribedCalls.push({ session, filters: [...filters] });
    this.emit("change");
  }

  actsFor(session: DeviceSession, device: DeviceId): boolean {
    const key = `${device.productId}/${device.deviceName}`;
    return this.subDevices.get(session.deviceKey)?.has(key) === true;
  }

  publish(session: DeviceSession, message: DevicePublish): Promise<boolean> | undefined {
    const { request, topic, payload, qos, packetId, dup } = message;
    let resolve: (acknowledged: boolean) => void = () => {};
    const result =
      qos === 1
        ? new Promise<boolean>((settle) => {
            resolve = settle;
          })
        : undefined;
    const call: PublishCall = {
      session,
      request,
      topic,
      payload: Buffer.from(payload),
      qos,
      packetId,
      dup,
      settled: qos === 0,
      settle: (acknowledged) => {
        call.settled = true;
        resolve(acknowledged);
      },
    };
    this.publishes.push(call);
    this.maxPending = Math.max(this.maxPending, this.pending().length);
    if (qos === 1 && this.autoAck) call.settle(true);
    this.emit("change");
    return result;
  }

  /** QoS 1 publishes not settled yet, oldest first. */
  pending(): PublishCall[] {
    return this.publishes.filter((call) => !call.settled);
  }

  /** The open session of a device (opened and not closed). */
  sessionOf(deviceName: string): EdgeSession {
    const key = `${PRODUCT}/${deviceName}`;
    const session = this.openedSessions.findLast(
      (opened) => opened.deviceKey === key && !this.closedSessions.includes(opened),
    );
    assert.ok(session, `no open session for ${key}`);
    return session as EdgeSession;
  }

  /** Resolves once `condition` holds, re-checked after every backend call. */
  async until(condition: () => boolean, what: string, ms = DEADLINE_MS): Promise<void> {
    if (condition()) return;
    let check: () => void = () => {};
    const reached = new Promise<void>((resolve) => {
      check = () => {
        if (condition()) resolve();
      };
      this.on("change", check);
    });
    try {
      await withDeadline(reached, what, ms);
    } finally {
      this.off("change", check);
    }
  }
}

const decide = ({ clientId, username, password }: ConnectCredentials): AuthResult => {
  switch (clientId) {
    case "banned":
      return { ok: false, refusal: "not-authorized", detail: "device disabled" };
    case "bad-id":
      return { ok: false, refusal: "bad-client-id", detail: "no such device" };
    case "registry-down":
      return { ok: false, refusal: "unavailable", detail: "registry unreachable" };
  }
  // A CONNECT in another dialect's form (Azure `{hub}/{deviceId}/?…`) is read by it.
  if (username?.includes("/") === true) {
    const claim = recogniseConnect(clientId, username);
    if (!claim.ok || password?.toString() !== PASSWORD)
      return { ok: false, refusal: "bad-credentials", detail: "wrong claim or token" };
    return { ok: true, device: claim.identity, dialect: claim.dialect, modelId: claim.modelId };
  }
  if (username !== PRODUCT || password?.toString() !== PASSWORD)
    return { ok: false, refusal: "bad-credentials", detail: "wrong token" };
  return { ok: true, device: { productId: PRODUCT, deviceName: clientId } };
};

/** An Azure IoT Hub username for device `deviceId` of the test product (hub `P1.…`). */
export const azureUsername = (deviceId: string, query = "api-version=2021-04-12"): string =>
  `${PRODUCT}.azure-devices.net/${deviceId}/?${query}`;

export interface Edge {
  readonly server: EdgeServer;
  readonly backend: TestBackend;
  readonly port: number;
}

/** An edge on an ephemeral port with a TestBackend; closed after the test. */
export const startEdge = async (
  t: TestContext,
  limits: Partial<EdgeLimits> = {},
  clock?: () => number,
): Promise<Edge> => {
  const backend = new TestBackend();
  const level = (process.env.EDGE_TEST_LOG ?? "silent") as LogLevel;
  const server = createEdgeServer({
    backend,
    logger: createLogger("edge-test", level),
    limits,
    clock,
  });
  const port = await server.listen(0, "127.0.0.1");
  t.after(() => server.close());
  return { server, backend, port };
};

/** An mqtt.js client for device `deviceName`, closed after the test. */
export const connectDevice = async (
  t: TestContext,
  edge: Edge,
  deviceName: string,
  options: IClientOptions = {},
): Promise<MqttClient> => {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.port}`, {
    clientId: deviceName,
    username: PRODUCT,
    password: PASSWORD,
    reconnectPeriod: 0,
    connectTimeout: DEADLINE_MS,
    protocolVersion: 4,
    ...options,
  });
  t.after(() => client.endAsync(true));
  return client;
};

/**
 * Waits for `event` from an emitter (a socket, or an mqtt.js client, whose typed
 * emitter is an EventEmitter at run time), with a deadline.
 */
export const nextEvent = async <T extends unknown[] = unknown[]>(
  emitter: EventEmitter | MqttClient,
  event: string,
  ms = DEADLINE_MS,
): Promise<T> => {
  try {
    return (await once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(ms) })) as T;
  } catch (error) {
    throw new Error(`timed out waiting for ${event}`, { cause: error });
  }
};

/**
 * A hand-driven MQTT client on a raw socket, for what mqtt.js will not do: bad protocol
 * levels, oversized or malformed packets, floods, a socket that stops reading.
 */
export class RawClient {
  private readonly received: Packet[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: Socket,
    readonly protocolVersion: 3 | 4 | 5,
  ) {
    const incoming = createParser({ protocolVersion });
    incoming.on("packet", (packet: Packet) => {
      this.received.push(packet);
      this.wake();
    });
    socket.on("data", (chunk: Buffer) => incoming.parse(chunk));
    socket.on("error", () => {}); // resets are what some tests provoke
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** `localAddress`: another loopback address (127.0.0.2 …) to connect from. */
  static async open(
    t: TestContext,
    edge: Edge,
    protocolVersion: 3 | 4 | 5 = 4,
    localAddress?: string,
  ): Promise<RawClient> {
    const socket = netConnect({ port: edge.port, host: "127.0.0.1", localAddress });
    await nextEvent(socket, "connect");
    t.after(() => socket.destroy());
    return new RawClient(socket, protocolVersion);
  }

  /** Opens a connection and completes CONNECT/CONNACK as device `deviceName`. */
  static async connected(
    t: TestContext,
    edge: Edge,
    deviceName: string,
    protocolVersion: 3 | 4 | 5 = 4,
    keepalive = 0,
  ): Promise<RawClient> {
    const client = await RawClient.open(t, edge, protocolVersion);
    client.send(client.connectPacket(deviceName, { keepalive }));
    const connack = await client.next();
    assert.equal(connack.cmd, "connack");
    assert.equal(
      protocolVersion === 5 ? connack.reasonCode : connack.returnCode,
      0,
      "connection accepted",
    );
    return client;
  }

  connectPacket(
    deviceName: string,
    overrides: Partial<Extract<Packet, { cmd: "connect" }>> = {},
  ): Packet {
    return {
      cmd: "connect",
      protocolId: this.protocolVersion === 3 ? "MQIsdp" : "MQTT",
      protocolVersion: this.protocolVersion,
      clientId: deviceName,
      username: PRODUCT,
      password: Buffer.from(PASSWORD),
      keepalive: 0,
      clean: true,
      ...overrides,
    };
  }

  encode(packet: Packet): Buffer {
    return generate(packet, { protocolVersion: this.protocolVersion });
  }

  send(packet: Packet): void {
    this.socket.write(this.encode(packet));
  }

  /** The next packet from the edge; fails if the connection closes first. */
  async next(ms = DEADLINE_MS): Promise<Packet> {
    const packet = await withDeadline(this.take(), "a packet from the edge", ms);
    if (packet === undefined) assert.fail("the edge closed the connection");
    return packet;
  }

  /** Waits for the edge to close the connection; returns what it sent until then. */
  async closedAfter(ms = DEADLINE_MS): Promise<Packet[]> {
    await withDeadline(this.closed, "the edge to close the connection", ms);
    return this.received.splice(0);
  }

  /** Round trip: a PINGRESP proves everything the edge had to send before it was sent. */
  async ping(): Promise<void> {
    this.send({ cmd: "pingreq" });
    const packet = await this.next();
    assert.equal(packet.cmd, "pingresp", `expected PINGRESP, got ${packet.cmd}`);
  }

  private async take(): Promise<Packet | undefined> {
    for (;;) {
      const packet = this.received.shift();
      if (packet !== undefined) return packet;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

/** A packet from its first byte and body parts: the remaining length is filled in. */
export const frame = (firstByte: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const length: number[] = [];
  let rest = body.length;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest > 0) byte |= 0x80;
    length.push(byte);
  } while (rest > 0);
  return Buffer.concat([Buffer.from([firstByte, ...length]), body]);
};

/** A length-prefixed MQTT string of raw bytes (which may be ill-formed UTF-8). */
export const mqttString = (bytes: Buffer | string): Buffer => {
  const raw = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(raw.length);
  return Buffer.concat([length, raw]);
};

export const u16 = (value: number): Buffer => {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
};

/**
 * A CONNECT written byte by byte, for what mqtt-packet will not generate: `properties`
 * is an MQTT 5 property list's content (its length is prepended), `flags` the connect flags.
 */
export const rawConnect = (options: {
  level: 4 | 5;
  clientId: Buffer | string;
  flags?: number;
  properties?: Buffer;
  rest?: Buffer[];
}): Buffer => {
  const { level, clientId, properties = Buffer.alloc(0) } = options;
  const flags = options.flags ?? 0xc2; // user name, password, clean start
  const rest = options.rest ?? [mqttString(PRODUCT), mqttString(PASSWORD)];
  return frame(
    0x10,
    mqttString("MQTT"),
    Buffer.from([level, flags]),
    u16(0),
    level === 5 ? Buffer.from([properties.length]) : Buffer.alloc(0),
    properties,
    mqttString(clientId),
    ...rest,
  );
};

/**
 * The answer to a QoS 1 PUBLISH (`messageId`) on a topic the session may not use: MQTT 5
 * closes the connection with DISCONNECT 0x87; MQTT 3.1.1 cannot refuse a PUBLISH, so it
 * is PUBACKed and the session stays (a ping still answers).
 */
export const assertForeignPublishRefused = async (
  client: RawClient,
  version: 4 | 5,
  messageId: number,
): Promise<void> => {
  if (version === 5) {
    const [disconnect] = await client.closedAfter();
    assert.equal(disconnect?.cmd, "disconnect");
    assert.equal(disconnect?.cmd === "disconnect" && disconnect.reasonCode, Reason.notAuthorized);
  } else {
    const puback = await client.next();
    assert.equal(puback.cmd, "puback");
    assert.equal(puback.messageId, messageId);
    await client.ping();
  }
};

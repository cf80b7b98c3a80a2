import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { IConnackPacket, Packet } from "mqtt-packet";
import { DEFAULT_EDGE_LIMITS, Reason, resolveEdgeLimits } from "../src/index.js";
import { PersistentSessions } from "../src/persistentSessions.js";
import {
  DEADLINE_MS,
  type Edge,
  nextEvent,
  PASSWORD,
  PRODUCT,
  RawClient,
  startEdge,
  topicOf,
  versionName,
} from "./helpers.js";

const FILTER = topicOf("d1", "image/update/+");
const ACCEPTED = topicOf("d1", "image/update/accepted");

describe("the persistent session table", () => {
  it("returns a session's filters once, within its expiry only", () => {
    let now = 1_000;
    const table = new PersistentSessions(10, () => now);
    table.store("P1/d1", ["a"], 5_000);
    assert.deepEqual(table.take("P1/d1"), ["a"]);
    assert.equal(table.take("P1/d1"), undefined, "taken once");

    table.store("P1/d1", ["a"], 5_000);
    now += 4_999;
    table.store("P1/d2", ["b"], 5_000);
    now += 1; // d1's expiry
    assert.equal(table.take("P1/d1"), undefined);
    assert.deepEqual(table.take("P1/d2"), ["b"]);
  });

  it("keeps nothing for an expiry of 0, or with room for none", () => {
    const table = new PersistentSessions(10);
    table.store("P1/d1", ["a"], 0);
    assert.equal(table.size, 0);
    const none = new PersistentSessions(0);
    none.store("P1/d1", ["a"], 5_000);
    assert.equal(none.size, 0);
    assert.equal(none.take("P1/d1"), undefined);
  });

  it("holds maxSessions and forgets the oldest stored past it", () => {
    const table = new PersistentSessions(2);
    table.store("P1/d1", ["a"], 5_000);
    table.store("P1/d2", ["b"], 5_000);
    assert.equal(table.size, 2);
    assert.equal(table.evicted, 0);
    table.store("P1/d1", ["a2"], 5_000); // stored again: now the newest
    table.store("P1/d3", ["c"], 5_000);
    assert.equal(table.size, 2);
    assert.equal(table.evicted, 1);
    assert.equal(table.take("P1/d2"), undefined);
    assert.deepEqual(table.take("P1/d1"), ["a2"]);
    assert.deepEqual(table.take("P1/d3"), ["c"]);
  });

  it("drops expired sessions at the old end before evicting a live one", () => {
    let now = 0;
    const table = new PersistentSessions(2, () => now);
    table.store("P1/d1", ["a"], 1_000);
    table.store("P1/d2", ["b"], 10_000);
    now = 1_000;
    table.store("P1/d3", ["c"], 10_000);
    assert.equal(table.evicted, 0);
    assert.deepEqual(table.take("P1/d2"), ["b"]);
  });

  it("forgets a session discarded by a clean start", () => {
    const table = new PersistentSessions(2);
    table.store("P1/d1", ["a"], 5_000);
    table.discard("P1/d1");
    assert.equal(table.take("P1/d1"), undefined);
  });

  it("bounds the configuration: both limits take 0, the expiry at most a week", () => {
    assert.equal(resolveEdgeLimits({ maxPersistentSessions: 0 }).maxPersistentSessions, 0);
    assert.equal(resolveEdgeLimits({ sessionExpirySeconds: 0 }).sessionExpirySeconds, 0);
    assert.equal(
      resolveEdgeLimits({ sessionExpirySeconds: 604_800 }).sessionExpirySeconds,
      604_800,
    );
    assert.throws(() => resolveEdgeLimits({ sessionExpirySeconds: 604_801 }), RangeError);
    assert.throws(() => resolveEdgeLimits({ maxPersistentSessions: -1 }), RangeError);
  });
});

interface Connected {
  readonly client: MqttClient;
  readonly connack: IConnackPacket;
}

/**
 * An mqtt.js client of device `deviceName` with the CONNACK it got. `expiry`: MQTT 5's
 * Session Expiry Interval (undefined: not sent, which means 0).
 */
const connectAs = async (
  t: TestContext,
  edge: Edge,
  deviceName: string,
  version: 4 | 5,
  clean: boolean,
  expiry?: number,
): Promise<Connected> => {
  const options: IClientOptions = {
    clientId: deviceName,
    username: PRODUCT,
    password: PASSWORD,
    reconnectPeriod: 0,
    connectTimeout: DEADLINE_MS,
    protocolVersion: version,
    clean,
    ...(expiry !== undefined && { properties: { sessionExpiryInterval: expiry } }),
  };
  const client = mqtt.connect(`mqtt://127.0.0.1:${edge.port}`, options);
  t.after(() => client.endAsync(true));
  const [connack] = await nextEvent<[IConnackPacket]>(client, "connect");
  return { client, connack };
};

/** Ends the client's connection and waits until the edge has ended its session. */
const leave = async (edge: Edge, deviceName: string, client: MqttClient): Promise<void> => {
  const session = edge.backend.sessionOf(deviceName);
  await client.endAsync();
  await edge.backend.until(
    () => edge.backend.closedSessions.includes(session),
    `${deviceName}'s session to end`,
  );
};

/** A session that subscribed to its update answers (or `filters`) and ended, kept on the edge for its device. */
const leavePersistentSession = async (
  t: TestContext,
  edge: Edge,
  deviceName: string,
  version: 4 | 5,
  filters: string[] = [topicOf(deviceName, "image/update/+")],
): Promise<void> => {
  const { client, connack } = await connectAs(t, edge, deviceName, version, false, 600);
  assert.equal(connack.sessionPresent, false, "an unknown device has no session");
  if (filters.length > 0) await client.subscribeAsync(filters);
  await leave(edge, deviceName, client);
};

/** Connects clean=false and says whether the edge had a session for the device. */
const resumes = async (
  t: TestContext,
  edge: Edge,
  deviceName: string,
  version: 4 | 5,
): Promise<boolean> =>
  (await connectAs(t, edge, deviceName, version, false, 600)).connack.sessionPresent;

describe("persistent sessions", () => {
  for (const version of [4, 5] as const) {
    const v = versionName(version);

    it(`resumes a clean=false session: sessionPresent, and its subscriptions deliver without SUBSCRIBE (${v})`, async (t) => {
      const edge = await startEdge(t);
      await leavePersistentSession(t, edge, "d1", version);

      const { client, connack } = await connectAs(t, edge, "d1", version, false, 600);
      assert.equal(connack.sessionPresent, true);
      const session = edge.backend.sessionOf("d1");
      const message = nextEvent<[string, Buffer]>(client, "message");
      assert.equal(session.deliver(ACCEPTED, Buffer.from('{"ok":1}')), true);
      const [topic, payload] = await message;
      assert.equal(topic, ACCEPTED);
      assert.equal(payload.toString(), '{"ok":1}');
      // The backend hears of the restored filters as of a SUBSCRIBE (OneNET syncs deltas).
      const last = edge.backend.subscribedCalls.at(-1);
      assert.equal(last?.session, session);
      assert.deepEqual(last?.filters, [FILTER]);
    });

    it(`answers sessionPresent 0 to a clean start and forgets the kept session (${v})`, async (t) => {
      const edge = await startEdge(t);
      await leavePersistentSession(t, edge, "d1", version);

      // No expiry: MQTT 5 keeps nothing of this one either.
      const { client, connack } = await connectAs(t, edge, "d1", version, true);
      assert.equal(connack.sessionPresent, false);
      assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), false);
      await leave(edge, "d1", client);

      assert.equal(await resumes(t, edge, "d1", version), false);
      assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), false);
    });

    it(`forgets a session once it expired (${v})`, async (t) => {
      let now = Date.now();
      const edge = await startEdge(t, {}, () => now);
      await leavePersistentSession(t, edge, "d1", version);
      await leavePersistentSession(t, edge, "d2", version);

      // 3.1.1 keeps a session sessionExpirySeconds; MQTT 5 what it asked (600 s).
      const expiryMs = version === 5 ? 600_000 : DEFAULT_EDGE_LIMITS.sessionExpirySeconds * 1000;
      now += expiryMs - 1;
      assert.equal(await resumes(t, edge, "d1", version), true, "kept until its expiry");
      now += 1;
      assert.equal(await resumes(t, edge, "d2", version), false, "forgotten at its expiry");
      assert.equal(
        edge.backend
          .sessionOf("d2")
          .deliver(topicOf("d2", "image/update/accepted"), Buffer.from("x")),
        false,
      );
    });

    it(`keeps maxPersistentSessions sessions and forgets the oldest past it (${v})`, async (t) => {
      const edge = await startEdge(t, { maxPersistentSessions: 2 });
      await leavePersistentSession(t, edge, "d1", version, []);
      await leavePersistentSession(t, edge, "d2", version, []);
      // At the bound: both kept.
      assert.equal(await resumes(t, edge, "d1", version), true);
      assert.equal(await resumes(t, edge, "d2", version), true);

      for (const name of ["d1", "d2"]) {
        const session = edge.backend.sessionOf(name);
        session.close(Reason.success, "test");
        await edge.backend.until(() => edge.backend.closedSessions.includes(session), "closed");
      }
      await leavePersistentSession(t, edge, "d3", version, []);
      // Past it: d1, stored first, is gone.
      assert.equal(await resumes(t, edge, "d2", version), true);
      assert.equal(await resumes(t, edge, "d3", version), true);
      assert.equal(await resumes(t, edge, "d1", version), false);
    });

    it(`hands the session to a newer connection on this edge, not to a return after a take-over elsewhere (${v})`, async (t) => {
      const edge = await startEdge(t);
      const first = await connectAs(t, edge, "d1", version, false, 600);
      await first.client.subscribeAsync(FILTER);
      const firstSession = edge.backend.sessionOf("d1");
      const second = await connectAs(t, edge, "d1", version, false, 600);
      assert.equal(second.connack.sessionPresent, true);
      assert.ok(edge.backend.closedSessions.includes(firstSession));
      const secondSession = edge.backend.sessionOf("d1");
      assert.equal(secondSession.deliver(ACCEPTED, Buffer.from("x")), true);

      // What the NATS backend does when the device connects to another edge.
      secondSession.close(Reason.sessionTakenOver, "session taken over by a newer connection");
      await edge.backend.until(() => edge.backend.closedSessions.includes(secondSession), "closed");
      assert.equal(await resumes(t, edge, "d1", version), false);
    });

    it(`restores only the sub-device filters a gateway still acts for (${v})`, async (t) => {
      const edge = await startEdge(t);
      edge.backend.subDevices.set(`${PRODUCT}/gw`, new Set([`${PRODUCT}/s1`]));
      const own = topicOf("gw", "image/update/+");
      const sub = topicOf("s1", "image/update/+");
      const first = await connectAs(t, edge, "gw", version, false, 600);
      const granted = await first.client.subscribeAsync([own, sub]);
      assert.deepEqual(
        granted.map((grant) => grant.qos),
        [0, 0],
      );
      await leave(edge, "gw", first.client);

      edge.backend.subDevices.set(`${PRODUCT}/gw`, new Set()); // s1 left the gateway
      assert.equal(await resumes(t, edge, "gw", version), true);
      const session = edge.backend.sessionOf("gw");
      assert.equal(session.deliver(topicOf("gw", "image/update/accepted"), Buffer.from("x")), true);
      assert.equal(
        session.deliver(topicOf("s1", "image/update/accepted"), Buffer.from("x")),
        false,
      );
      assert.deepEqual(edge.backend.subscribedCalls.at(-1)?.filters, [own]);
    });
  }

  it("resumes an MQTT 3.1 session without a Session Present flag, which 3.1 lacks", async (t) => {
    const edge = await startEdge(t);
    const connect = async (): Promise<{ client: RawClient; connack: Packet }> => {
      const client = await RawClient.open(t, edge, 3);
      client.send(client.connectPacket("d1", { clean: false }));
      return { client, connack: await client.next() };
    };
    const first = await connect();
    first.client.send({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [{ topic: FILTER, qos: 0 }],
    });
    assert.equal((await first.client.next()).cmd, "suback");
    const firstSession = edge.backend.sessionOf("d1");
    first.client.send({ cmd: "disconnect" });
    await edge.backend.until(() => edge.backend.closedSessions.includes(firstSession), "closed");

    const { connack } = await connect();
    assert.equal(connack.cmd === "connack" && connack.sessionPresent, false);
    assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), true);
  });

  it("keeps nothing of an MQTT 5 session without a Session Expiry Interval", async (t) => {
    const edge = await startEdge(t);
    const { client } = await connectAs(t, edge, "d1", 5, false);
    await client.subscribeAsync(FILTER);
    await leave(edge, "d1", client);
    const { connack } = await connectAs(t, edge, "d1", 5, false);
    assert.equal(connack.sessionPresent, false);
    assert.equal(edge.backend.sessionOf("d1").deliver(ACCEPTED, Buffer.from("x")), false);
  });

  it("keeps an MQTT 5 session that started clean, for its Session Expiry Interval", async (t) => {
    const edge = await startEdge(t);
    const { client } = await connectAs(t, edge, "d1", 5, true, 600);
    await client.subscribeAsync(FILTER);
    await leave(edge, "d1", client);
    assert.equal(await resumes(t, edge, "d1", 5), true);
  });

  it("keeps no MQTT 3.1.1 session that started clean", async (t) => {
    const edge = await startEdge(t);
    const { client } = await connectAs(t, edge, "d1", 4, true);
    await client.subscribeAsync(FILTER);
    await leave(edge, "d1", client);
    assert.equal(await resumes(t, edge, "d1", 4), false);
  });

  it("grants an MQTT 5 Session Expiry Interval up to the edge's and says so in CONNACK", async (t) => {
    const edge = await startEdge(t, { sessionExpirySeconds: 60 });
    const asking = async (expiry: number): Promise<Packet> => {
      const client = await RawClient.open(t, edge, 5);
      client.send(
        client.connectPacket("d1", { clean: false, properties: { sessionExpiryInterval: expiry } }),
      );
      return client.next();
    };
    const capped = await asking(0xffff_ffff); // "never expires"
    assert.equal(capped.cmd === "connack" && capped.properties?.sessionExpiryInterval, 60);
    const granted = await asking(30);
    assert.equal(granted.cmd, "connack");
    assert.equal(granted.cmd === "connack" && granted.properties?.sessionExpiryInterval, undefined);
    assert.equal(edge.backend.sessionOf("d1").sessionExpirySeconds, 30);
  });

  it("keeps no session with sessionExpirySeconds 0, and tells MQTT 5 clients", async (t) => {
    const edge = await startEdge(t, { sessionExpirySeconds: 0 });
    await leavePersistentSession(t, edge, "d1", 4);
    assert.equal(await resumes(t, edge, "d1", 4), false);
    const { connack } = await connectAs(t, edge, "d2", 5, false, 600);
    assert.equal(connack.properties?.sessionExpiryInterval, 0);
  });

  it("takes a new Session Expiry Interval from an MQTT 5 DISCONNECT", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge, 5);
    client.send(
      client.connectPacket("d1", { clean: false, properties: { sessionExpiryInterval: 600 } }),
    );
    await client.next();
    client.send({ cmd: "disconnect", properties: { sessionExpiryInterval: 0 } });
    assert.deepEqual(await client.closedAfter(), []);
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
    assert.equal(await resumes(t, edge, "d1", 5), false);
  });

  it("refuses with 0x82 a DISCONNECT asking to keep a session CONNECT asked none for", async (t) => {
    const edge = await startEdge(t);
    const client = await RawClient.open(t, edge, 5);
    client.send(client.connectPacket("d1", { clean: false }));
    await client.next();
    client.send({ cmd: "disconnect", properties: { sessionExpiryInterval: 600 } });
    const [disconnect] = await client.closedAfter();
    assert.equal(disconnect?.cmd, "disconnect");
    assert.equal(disconnect?.cmd === "disconnect" && disconnect.reasonCode, Reason.protocolError);
    await edge.backend.until(() => edge.backend.closedSessions.length === 1, "closed");
    assert.equal(await resumes(t, edge, "d1", 5), false);
  });
});

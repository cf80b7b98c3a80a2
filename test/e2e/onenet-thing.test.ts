/**
 * OneNET OneJSON thing model end to end (issue 18, DIALECTS.md §4): property and event
 * uploads, a gateway's batch and history uploads for its sub-devices (seed 003), desired
 * get / delete with versions, OneNET's bounds (10 sub-devices, 100 points per device,
 * 100 history values), and seed 000's 164 precedence. NATS (with JetStream) and Redis of
 * the test's own; shard, reply, edge and api as separate processes; the devices are
 * mqtt.js clients and the Mosquitto command-line clients, the application real HTTP and
 * Server-Sent Events. Direct-device calls (property set / get, service invoke) are in
 * the API's own end-to-end file.
 *
 * Times in the payloads are fixed milliseconds far from the clock, so a metadata
 * timestamp equal to one can only have come from the device's `time`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  assertExit,
  CLI_FORMAT,
  CLI_WAIT_S,
  describeRun,
  deviceCommand,
  type HttpAnswer,
  type httpClient,
  openEventStream,
  printedAnswer,
  requireMosquittoClients,
  runCliClient,
  type SseEvent,
  SseStream,
  startApiCluster,
  startCliClient,
  TestDevice,
} from "../src/harness.js";

const KEY = "thing-admin-key-0123456789abcdef";
/** Direct devices and gateways. */
const PID = "things";
/** Sub-devices. */
const SUB = "meters";

/** No test may hang the file, whatever a client or the cluster does. */
const DEADLINE = { timeout: 90_000 };

/** A time a device measured a value at (ms), long before the test runs. */
const T0 = 1_700_000_000_000;

let cluster: ApiCluster;
let http: ReturnType<typeof httpClient>;
let base: string;
let mqttUrl: string;
let mqttPort: number;
const open: { close(): unknown }[] = [];

interface Registered {
  readonly productId: string;
  readonly deviceName: string;
  readonly token: string;
}

interface Reply {
  id: string | null;
  code: number;
  msg: string;
  data?: unknown;
}

interface Leaf {
  timestamp: number;
  version: number;
  source: string;
}

interface Shadow {
  version: number;
  desired: Record<string, unknown>;
  reported: Record<string, unknown>;
  metadata: { desired: Record<string, Leaf>; reported: Record<string, Leaf> };
}

const devicePath = (pid: string, dn: string) => `/v1/products/${pid}/devices/${dn}`;
const thing = (d: { productId: string; deviceName: string }, suffix: string) =>
  `$sys/${d.productId}/${d.deviceName}/thing/${suffix}`;
const identity = (dn: string) => ({ productID: SUB, deviceName: dn });

/** Registers a device through the API and issues its token. */
const register = async (pid: string, dn: string): Promise<Registered> => {
  const made = await http("POST", `/v1/products/${pid}/devices`, { key: KEY, body: { name: dn } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const token = await http("POST", `${devicePath(pid, dn)}/token`, { key: KEY, body: {} });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return { productId: pid, deviceName: dn, token: (token.body as { token: string }).token };
};

/**
 * A gateway with sub-devices registered under it, all before it connects: the edge
 * reads a gateway's sub-devices while it authenticates.
 */
const gatewayWith = async (gw: string, subs: readonly string[]): Promise<Registered> => {
  const gateway = await register(PID, gw);
  for (const dn of subs) {
    await register(SUB, dn);
    const put = await http("PUT", `${devicePath(PID, gw)}/subdevices/${SUB}/${dn}`, { key: KEY });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  }
  return gateway;
};

/** A connected mqtt.js device listening to every thing topic the cloud sends it. */
const connect = async (d: Registered): Promise<TestDevice> => {
  const device = await TestDevice.connect(mqttUrl, d, { subscribe: [thing(d, "#")] });
  open.push({ close: () => device.close() });
  return device;
};

/** Publishes an upload (QoS 1) and returns the cloud's `…/{upload}/reply`. */
const upload = async (
  device: TestDevice,
  d: Registered,
  what: string,
  body: unknown,
): Promise<Reply> => {
  await device.client.publishAsync(
    thing(d, what),
    typeof body === "string" ? body : JSON.stringify(body),
    { qos: 1 },
  );
  const reply = await device.next(`thing/${what}/reply`);
  assert.equal(reply.topic, thing(d, `${what}/reply`));
  return reply.body as Reply;
};

/** The shadow through the API; `undefined` when it does not exist (404). */
const shadowOf = async (pid: string, dn: string): Promise<Shadow | undefined> => {
  const got = await http("GET", `${devicePath(pid, dn)}/shadow`, { key: KEY });
  if (got.status === 404) return undefined;
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.body as Shadow;
};

const desire = async (pid: string, dn: string, desired: Record<string, unknown>) => {
  const answer: HttpAnswer = await http("PATCH", `${devicePath(pid, dn)}/shadow`, {
    key: KEY,
    type: "application/merge-patch+json",
    body: { desired },
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body as Shadow;
};

/** An event stream of a device, open (the API answers 200 once it is subscribed). */
const stream = async (pid: string, dn: string): Promise<SseStream> => {
  const opened = await openEventStream(base, `${devicePath(pid, dn)}/events`, { key: KEY });
  if (!(opened instanceof SseStream))
    assert.fail(`events of ${pid}/${dn}: ${opened.status} ${JSON.stringify(opened.body)}`);
  open.push(opened);
  return opened;
};

interface ThingAppEvent {
  device: string;
  source: string;
  op: string;
  /** History only: `property` or `event`. */
  kind?: string;
  identifier: string;
  value: unknown;
  time: number;
}

/**
 * The next application event whose `op` is `op` (`event`, `history`) on a stream,
 * skipping the shadow's changes (`update`…): an SSE `change` event, as telemetry is.
 */
const nextOf = async (events: SseStream, op: string): Promise<ThingAppEvent> => {
  for (;;) {
    const e: SseEvent = await events.next();
    assert.equal(e.event, "change", JSON.stringify(e));
    const data = JSON.parse(e.data) as ThingAppEvent;
    if (data.op !== op) continue;
    assert.equal(data.source, "device", e.data);
    return data;
  }
};

/** What a thing application event says, for comparing in one assertion. */
const said = (e: ThingAppEvent) => ({
  device: e.device,
  ...(e.kind === undefined ? {} : { kind: e.kind }),
  identifier: e.identifier,
  value: e.value,
  time: e.time,
});

/** `count` properties `p0`… with values `from`… (one point each). */
const properties = (count: number, from = 0) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`p${i}`, { value: from + i }]));

before(async () => {
  requireMosquittoClients();
  cluster = await startApiCluster({
    apiKeys: `${KEY}=*`,
    adminKey: KEY,
    products: [PID, SUB],
  });
  http = cluster.http[0] as ReturnType<typeof httpClient>;
  base = cluster.apiUrls[0] as string;
  mqttUrl = cluster.mqttUrls[0] as string;
  mqttPort = Number(new URL(mqttUrl).port);
});

after(async () => {
  await Promise.all(open.map(async (o) => o.close()));
  await cluster?.stop();
});

describe("OneNET thing model: property and event upload", () => {
  it(
    "property/post → property/post/reply 200 success; reported holds the value, its metadata timestamp the device's time (mqtt.js)",
    DEADLINE,
    async () => {
      const d = await register(PID, "prop-js");
      const device = await connect(d);
      const since = Date.now();
      const reply = await upload(device, d, "property/post", {
        id: "1",
        version: "1.0",
        params: { temp: { value: 21.5, time: T0 }, mode: { value: "eco" } },
      });
      assert.deepEqual(reply, { id: "1", code: 200, msg: "success" });
      const shadow = await shadowOf(PID, "prop-js");
      assert.ok(shadow !== undefined, "the post created the shadow");
      assert.deepEqual(shadow.reported, { temp: 21.5, mode: "eco" });
      assert.equal(shadow.metadata.reported.temp?.timestamp, T0);
      assert.equal(shadow.metadata.reported.temp?.source, "device");
      // A value without a time is stamped with the write's.
      assert.ok((shadow.metadata.reported.mode?.timestamp ?? 0) >= since, JSON.stringify(shadow));
    },
  );

  for (const protocol of ["mqttv5", "mqttv311"] as const) {
    it(
      `property/post → property/post/reply on one connection, with mosquitto_rr (${protocol})`,
      DEADLINE,
      async () => {
        requireMosquittoClients();
        const d = await register(PID, `prop-rr-${protocol}`);
        const time = T0 + (protocol === "mqttv5" ? 5 : 311);
        const run = await runCliClient(
          "mosquitto_rr",
          deviceCommand({
            port: mqttPort,
            device: d,
            protocol,
            qos: 1,
            topics: [thing(d, "property/post")],
            answer: thing(d, "property/post/reply"),
            body: [
              "-m",
              JSON.stringify({ id: "1", version: "1.0", params: { temp: { value: 21.5, time } } }),
            ],
            waitS: CLI_WAIT_S,
            format: CLI_FORMAT,
          }),
        );
        assertExit(run, 0);
        const answer = printedAnswer(run.stdout, run.command);
        assert.equal(answer.topic, thing(d, "property/post/reply"));
        assert.deepEqual(answer.body, { id: "1", code: 200, msg: "success" });
        const shadow = await shadowOf(PID, d.deviceName);
        assert.deepEqual(shadow?.reported, { temp: 21.5 });
        assert.equal(shadow?.metadata.reported.temp?.timestamp, time);
      },
    );
  }

  it(
    "property/post with mosquitto_pub -q 1: acknowledged (PUBACK) once stored, the value and its time in the shadow",
    DEADLINE,
    async () => {
      const d = await register(PID, "prop-pub");
      for (const [i, protocol] of (["mqttv311", "mqttv5"] as const).entries()) {
        const run = await runCliClient(
          "mosquitto_pub",
          deviceCommand({
            port: mqttPort,
            device: d,
            protocol,
            debug: true,
            qos: 1,
            topics: [thing(d, "property/post")],
            body: [
              "-m",
              JSON.stringify({
                id: `${10 + i}`,
                params: { level: { value: i + 1, time: T0 + i } },
              }),
            ],
          }),
        );
        assertExit(run, 0);
        assert.match(run.stdout, /received PUBACK \(Mid: 1, RC:0\)/, describeRun(run.command, run));
        const shadow = await shadowOf(PID, "prop-pub");
        assert.equal(shadow?.version, i + 1, `${protocol}: ${JSON.stringify(shadow)}`);
        assert.deepEqual(shadow?.reported, { level: i + 1 });
        assert.equal(shadow?.metadata.reported.level?.timestamp, T0 + i);
      }
    },
  );

  it(
    "SUBACK on thing topics (mosquitto_sub): the replies are granted, the device's own upload topic and another device's topics refused",
    DEADLINE,
    async () => {
      const d = await register(PID, "subscriber");
      const other = await register(PID, "someone-else");
      for (const [protocol, refused] of [
        ["mqttv311", 128],
        ["mqttv5", 135],
      ] as const) {
        const sub = startCliClient(
          "mosquitto_sub",
          deviceCommand({
            port: mqttPort,
            device: d,
            protocol,
            debug: true,
            waitS: CLI_WAIT_S,
            topics: [
              thing(d, "property/post/reply"),
              thing(d, "#"),
              thing(d, "property/post"),
              thing(other, "property/post/reply"),
            ],
          }),
        );
        open.push({ close: () => sub.kill() });
        // The SUBACK is the answer: the client is stopped once it printed it.
        const line = await sub.waitForLine(/^Subscribed \(mid: 1\):/);
        sub.kill();
        assert.equal(line, `Subscribed (mid: 1): 0, 0, ${refused}, ${refused}`, sub.command);
      }
    },
  );

  it(
    "a property not wrapped in {value} → 165 invalid parameters with the request's id; nothing written",
    DEADLINE,
    async () => {
      const d = await register(PID, "prop-bad");
      const device = await connect(d);
      const reply = await upload(device, d, "property/post", {
        id: "42",
        params: { temp: 21.5 },
      });
      assert.deepEqual(reply, { id: "42", code: 165, msg: "invalid parameters" });
      // Unreadable as a request: the id cannot be trusted either.
      const garbled = await upload(device, d, "property/post", "{not json");
      assert.deepEqual(garbled, { id: null, code: 160, msg: "illegal json" });
      assert.equal(await shadowOf(PID, "prop-bad"), undefined);
    },
  );

  it(
    "event/post → event/post/reply; an SSE client gets an event with identifier, value and time; the shadow is not written",
    DEADLINE,
    async () => {
      const d = await register(PID, "alarmer");
      const device = await connect(d);
      const events = await stream(PID, "alarmer");
      const reply = await upload(device, d, "event/post", {
        id: "7",
        version: "1.0",
        params: { alarm: { value: { power: "on", level: 2 }, time: T0 + 7 } },
      });
      assert.deepEqual(reply, { id: "7", code: 200, msg: "success" });
      const event = await nextOf(events, "event");
      assert.deepEqual(said(event), {
        device: "alarmer",
        identifier: "alarm",
        value: { power: "on", level: 2 },
        time: T0 + 7,
      });
      assert.equal(await shadowOf(PID, "alarmer"), undefined);
    },
  );
});

describe("OneNET thing model: a gateway's batch upload (pack/post)", () => {
  it(
    "pack/post for two registered sub-devices and the gateway itself updates the three shadows, each value with its time",
    DEADLINE,
    async () => {
      const gw = await gatewayWith("gw-pack", ["m-pack-1", "m-pack-2"]);
      const gateway = await connect(gw);
      const reply = await upload(gateway, gw, "pack/post", {
        id: "100",
        version: "1.0",
        params: [
          { identity: identity("m-pack-1"), properties: { temp: { value: 20.5, time: T0 + 1 } } },
          {
            identity: identity("m-pack-2"),
            properties: { temp: { value: 30, time: T0 + 2 }, power: { value: "on", time: T0 + 3 } },
          },
          { properties: { uptime: { value: 5, time: T0 + 4 } } },
        ],
      });
      assert.deepEqual(reply, { id: "100", code: 200, msg: "success" });
      const first = await shadowOf(SUB, "m-pack-1");
      assert.deepEqual(first?.reported, { temp: 20.5 });
      assert.equal(first?.metadata.reported.temp?.timestamp, T0 + 1);
      const second = await shadowOf(SUB, "m-pack-2");
      assert.deepEqual(second?.reported, { temp: 30, power: "on" });
      assert.equal(second?.metadata.reported.temp?.timestamp, T0 + 2);
      assert.equal(second?.metadata.reported.power?.timestamp, T0 + 3);
      const own = await shadowOf(PID, "gw-pack");
      assert.deepEqual(own?.reported, { uptime: 5 });
      assert.equal(own?.metadata.reported.uptime?.timestamp, T0 + 4);
    },
  );

  it("a pack's events reach the event stream of the sub-device they name", DEADLINE, async () => {
    const gw = await gatewayWith("gw-pack-ev", ["m-pack-ev"]);
    const gateway = await connect(gw);
    const events = await stream(SUB, "m-pack-ev");
    const reply = await upload(gateway, gw, "pack/post", {
      id: "101",
      params: [
        {
          identity: identity("m-pack-ev"),
          events: { overheat: { value: { temp: 90 }, time: T0 + 9 } },
        },
      ],
    });
    assert.deepEqual(reply, { id: "101", code: 200, msg: "success" });
    assert.deepEqual(said(await nextOf(events, "event")), {
      device: "m-pack-ev",
      identifier: "overheat",
      value: { temp: 90 },
      time: T0 + 9,
    });
  });

  it(
    "pack/post naming another gateway's sub-device, or an unregistered device, → 171; nothing changes for anyone",
    DEADLINE,
    async () => {
      const gw = await gatewayWith("gw-strict", ["m-strict"]);
      await gatewayWith("gw-neighbour", ["m-neighbours"]);
      await register(SUB, "m-loner"); // registered, under no gateway
      const gateway = await connect(gw);
      const written = await upload(gateway, gw, "pack/post", {
        id: "1",
        params: [
          { identity: identity("m-strict"), properties: { temp: { value: 1, time: T0 } } },
          { properties: { uptime: { value: 1, time: T0 } } },
        ],
      });
      assert.equal(written.code, 200, JSON.stringify(written));
      const ownBefore = await shadowOf(SUB, "m-strict");
      const gatewayBefore = await shadowOf(PID, "gw-strict");
      assert.deepEqual(ownBefore?.reported, { temp: 1 });

      for (const [i, stranger] of ["m-neighbours", "m-loner", "m-never-registered"].entries()) {
        const id = `${200 + i}`;
        const reply = await upload(gateway, gw, "pack/post", {
          id,
          params: [
            // A good entry first: refused with the rest, as the message is refused whole.
            { identity: identity("m-strict"), properties: { temp: { value: 99, time: T0 + 99 } } },
            { properties: { uptime: { value: 99 } } },
            { identity: identity(stranger), properties: { temp: { value: 66 } } },
          ],
        });
        assert.deepEqual(
          reply,
          { id, code: 171, msg: "not a sub-device of this gateway" },
          stranger,
        );
        assert.deepEqual(await shadowOf(SUB, "m-strict"), ownBefore, stranger);
        assert.deepEqual(await shadowOf(PID, "gw-strict"), gatewayBefore, stranger);
        assert.equal(await shadowOf(SUB, stranger), undefined, stranger);
      }
    },
  );
});

describe("OneNET thing model: history upload (history/post)", () => {
  it(
    "history values older than reported leave it alone, and every value streams as a history event in time order",
    DEADLINE,
    async () => {
      const d = await register(PID, "historian");
      const device = await connect(d);
      const now = T0 + 60_000;
      const posted = await upload(device, d, "property/post", {
        id: "1",
        params: { temp: { value: 25, time: now } },
      });
      assert.equal(posted.code, 200, JSON.stringify(posted));
      const before = await shadowOf(PID, "historian");
      const events = await stream(PID, "historian");

      const reply = await upload(device, d, "history/post", {
        id: "2",
        version: "1.0",
        params: [
          {
            properties: {
              // Out of order on purpose: the stream puts them in time order.
              temp: [
                { value: 21, time: T0 + 2000 },
                { value: 20, time: T0 },
                { value: 22, time: T0 + 1000 },
              ],
              humidity: [
                { value: 40, time: T0 + 500 },
                { value: 41, time: T0 + 2500 },
              ],
            },
            events: { rollover: [{ value: { count: 3 }, time: T0 + 1500 }] },
          },
        ],
      });
      assert.deepEqual(reply, { id: "2", code: 200, msg: "success" });

      const streamed: ReturnType<typeof said>[] = [];
      for (let i = 0; i < 6; i++) streamed.push(said(await nextOf(events, "history")));
      const at = (identifier: string, value: unknown, time: number) => ({
        device: "historian",
        kind: identifier === "rollover" ? "event" : "property",
        identifier,
        value,
        time,
      });
      assert.deepEqual(streamed, [
        at("temp", 20, T0),
        at("humidity", 40, T0 + 500),
        at("temp", 22, T0 + 1000),
        at("rollover", { count: 3 }, T0 + 1500),
        at("temp", 21, T0 + 2000),
        at("humidity", 41, T0 + 2500),
      ]);

      const after = await shadowOf(PID, "historian");
      // temp: the shadow's value is newer than every historical one.
      assert.equal(after?.reported.temp, 25);
      assert.deepEqual(after?.metadata.reported.temp, before?.metadata.reported.temp);
      // Whether humidity, which the shadow has no value of, may take its newest historical
      // one is a design choice this test leaves open (the edge writes no shadow for history).
    },
  );

  it(
    "history/post with only values older than reported writes nothing: the version stays",
    DEADLINE,
    async () => {
      const d = await register(PID, "late");
      const device = await connect(d);
      const posted = await upload(device, d, "property/post", {
        id: "1",
        params: { temp: { value: 25, time: T0 + 10_000 } },
      });
      assert.equal(posted.code, 200, JSON.stringify(posted));
      const before = await shadowOf(PID, "late");
      const reply = await upload(device, d, "history/post", {
        id: "2",
        params: [{ properties: { temp: [{ value: 1, time: T0 }] } }],
      });
      assert.deepEqual(reply, { id: "2", code: 200, msg: "success" });
      assert.deepEqual(await shadowOf(PID, "late"), before);
    },
  );
});

describe("OneNET thing model: desired get and delete, with versions", () => {
  it(
    "desired/get answers each asked-for desired property with its version; desired/delete with an older version keeps it, with the latest clears it",
    DEADLINE,
    async () => {
      const d = await register(PID, "wisher");
      const device = await connect(d);
      const first = await desire(PID, "wisher", { power: "on", mode: "eco" });

      const got = await upload(device, d, "property/desired/get", {
        id: "1",
        params: ["power", "mode", "nothing-desired"],
      });
      assert.deepEqual(got, {
        id: "1",
        code: 200,
        msg: "success",
        data: {
          power: { value: "on", version: first.version },
          mode: { value: "eco", version: first.version },
        },
      });

      // A newer set: power's version grows, mode's stays.
      const second = await desire(PID, "wisher", { power: "off" });
      assert.ok(second.version > first.version);
      const again = await upload(device, d, "property/desired/get", {
        id: "2",
        params: ["power", "mode"],
      });
      assert.deepEqual(again.data, {
        power: { value: "off", version: second.version },
        mode: { value: "eco", version: first.version },
      });

      // Deleting power at the version the device read first: a newer value was set since.
      const stale = await upload(device, d, "property/desired/delete", {
        id: "3",
        params: { power: { version: first.version } },
      });
      assert.deepEqual(stale, { id: "3", code: 200, msg: "success" });
      const kept = await shadowOf(PID, "wisher");
      assert.deepEqual(kept?.desired, { power: "off", mode: "eco" });
      assert.equal(kept?.version, second.version);

      // At the latest version (power), and with none (mode): both cleared.
      const fresh = await upload(device, d, "property/desired/delete", {
        id: "4",
        params: { power: { version: second.version }, mode: {} },
      });
      assert.deepEqual(fresh, { id: "4", code: 200, msg: "success" });
      const cleared = await shadowOf(PID, "wisher");
      assert.deepEqual(cleared?.desired ?? {}, {});
      const none = await upload(device, d, "property/desired/get", {
        id: "5",
        params: ["power", "mode"],
      });
      assert.deepEqual(none, { id: "5", code: 200, msg: "success", data: {} });
    },
  );
  it(
    "desired/get and desired/delete before the device has a shadow: 200 with nothing in it, and no shadow created",
    DEADLINE,
    async () => {
      const d = await register(PID, "wisher-new");
      const device = await connect(d);
      const got = await upload(device, d, "property/desired/get", { id: "1", params: ["power"] });
      assert.deepEqual(got, { id: "1", code: 200, msg: "success", data: {} });
      const deleted = await upload(device, d, "property/desired/delete", {
        id: "2",
        params: { power: {} },
      });
      assert.deepEqual(deleted, { id: "2", code: 200, msg: "success" });
      assert.equal(await shadowOf(PID, "wisher-new"), undefined);
    },
  );
});

describe("OneNET thing model: bounds (10 sub-devices, 100 points per device, 100 history values)", () => {
  it(
    "pack/post with 11 sub-devices → 168 and no shadow written; with exactly 10 → 200 and ten shadows",
    DEADLINE,
    async () => {
      const subs = Array.from({ length: 11 }, (_, i) => `m-bound-${i}`);
      const gw = await gatewayWith("gw-bound", subs);
      const gateway = await connect(gw);
      const entry = (dn: string) => ({
        identity: identity(dn),
        properties: { temp: { value: 1, time: T0 } },
      });
      const over = await upload(gateway, gw, "pack/post", { id: "11", params: subs.map(entry) });
      assert.deepEqual(over, { id: "11", code: 168, msg: "too many sub-devices" });
      for (const dn of subs) assert.equal(await shadowOf(SUB, dn), undefined, dn);

      const ten = subs.slice(0, 10);
      const at = await upload(gateway, gw, "pack/post", { id: "10", params: ten.map(entry) });
      assert.deepEqual(at, { id: "10", code: 200, msg: "success" });
      for (const dn of ten) assert.deepEqual((await shadowOf(SUB, dn))?.reported, { temp: 1 }, dn);
      assert.equal(await shadowOf(SUB, subs[10] as string), undefined);
    },
  );

  it(
    "pack/post with 101 points for one device → 169 and nothing written; with exactly 100 → 200",
    DEADLINE,
    async () => {
      const d = await register(PID, "pointer");
      const device = await connect(d);
      const over = await upload(device, d, "pack/post", {
        id: "101",
        params: [{ properties: properties(100), events: { tick: { value: 1 } } }],
      });
      assert.deepEqual(over, { id: "101", code: 169, msg: "too many data points" });
      assert.equal(await shadowOf(PID, "pointer"), undefined);

      const at = await upload(device, d, "pack/post", {
        id: "100",
        params: [{ properties: properties(100) }],
      });
      assert.deepEqual(at, { id: "100", code: 200, msg: "success" });
      assert.deepEqual((await shadowOf(PID, "pointer"))?.reported, {
        ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, i])),
      });
    },
  );

  it(
    "history/post with 101 points for one device → 169 and nothing written or streamed",
    DEADLINE,
    async () => {
      const d = await register(PID, "hist-pointer");
      const device = await connect(d);
      const events = await stream(PID, "hist-pointer");
      const series = (count: number, from: number) =>
        Object.fromEntries(
          Array.from({ length: count }, (_, i) => [`p${i}`, [{ value: from + i, time: T0 + i }]]),
        );
      const over = await upload(device, d, "history/post", {
        id: "101",
        params: [{ properties: series(101, 1000) }],
      });
      assert.deepEqual(over, { id: "101", code: 169, msg: "too many data points" });
      assert.equal(await shadowOf(PID, "hist-pointer"), undefined);
      // The first history event on the stream is the accepted upload's, not the refused one's.
      const at = await upload(device, d, "history/post", {
        id: "100",
        params: [{ properties: series(100, 0) }],
      });
      assert.deepEqual(at, { id: "100", code: 200, msg: "success" });
      assert.deepEqual(said(await nextOf(events, "history")), {
        device: "hist-pointer",
        kind: "property",
        identifier: "p0",
        value: 0,
        time: T0,
      });
    },
  );

  it(
    "history/post with 101 values of one property → 170, nothing written or streamed; with exactly 100 → 200 and 100 history events in order",
    DEADLINE,
    async () => {
      const d = await register(PID, "hoarder");
      const device = await connect(d);
      const events = await stream(PID, "hoarder");
      const values = (count: number, from: number) =>
        Array.from({ length: count }, (_, i) => ({ value: from + i, time: T0 + i }));
      const over = await upload(device, d, "history/post", {
        id: "101",
        params: [{ properties: { level: values(101, 1000) } }],
      });
      assert.deepEqual(over, { id: "101", code: 170, msg: "too many history values" });
      assert.equal(await shadowOf(PID, "hoarder"), undefined);

      const at = await upload(device, d, "history/post", {
        id: "100",
        params: [{ properties: { level: values(100, 0) } }],
      });
      assert.deepEqual(at, { id: "100", code: 200, msg: "success" });
      // In order, and none from the refused upload (its values start at 1000).
      for (let i = 0; i < 100; i++)
        assert.deepEqual(
          said(await nextOf(events, "history")),
          { device: "hoarder", kind: "property", identifier: "level", value: i, time: T0 + i },
          `history event ${i}`,
        );
    },
  );
});

describe("OneNET device image beside the thing model (seed 000)", () => {
  it(
    'image/update with {"state":{"color":"x"}} → image/update/rejected 164, nothing written',
    DEADLINE,
    async () => {
      const d = await register(PID, "imager");
      const device = await TestDevice.connect(mqttUrl, d, {
        subscribe: [`$sys/${PID}/imager/image/#`],
      });
      open.push({ close: () => device.close() });
      await device.client.publishAsync(
        `$sys/${PID}/imager/image/update`,
        JSON.stringify({ state: { color: "x" } }),
        { qos: 1 },
      );
      assert.deepEqual((await device.next("image/update/rejected")).body, {
        err_code: 164,
        err_msg: "desired or reported key not found",
      });
      assert.equal(await shadowOf(PID, "imager"), undefined);
    },
  );
});

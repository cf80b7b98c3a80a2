/**
 * OneNET device image end to end (seed 000) with the real Mosquitto command-line clients
 * as the devices: mosquitto_rr, mosquitto_sub and mosquitto_pub against NATS and Redis of
 * the test's own and `umbra all` as a separate process. Every row and error code of the
 * seed, over MQTT 5 (mosquitto_rr's default) and MQTT 3.1.1 (mosquitto_pub's and _sub's).
 *
 * One device is one session: a second connection with the same client id takes the
 * first over. So a request and its answer go over one connection: mosquitto_rr
 * subscribes to the answer topic (-e), publishes the request (-t) and prints the first
 * answer. It refuses a wildcard answer topic, so each request names the answer it
 * expects; another answer would leave it waiting until its -W and fail the test.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, ShadowClient } from "@umbra/bus";
import {
  assertExit,
  CLI_FORMAT,
  CLI_WAIT_S,
  type CliClient,
  describeRun,
  deviceCommand,
  printedAnswer,
  printedLines,
  type RegisteredDevice,
  registerDevice,
  requireMosquittoClients,
  runCliClient,
  type Server,
  type ServiceProcess,
  startCliClient,
  startNats,
  startRedis,
  startService,
} from "../src/harness.js";

interface Image {
  state: Record<string, unknown>;
  metadata: Record<string, unknown>;
  version: number;
  timestamp: number;
}
interface Answer {
  topic: string;
  body: unknown;
}

type Protocol = "mqttv5" | "mqttv311";
const PROTOCOLS: readonly Protocol[] = ["mqttv5", "mqttv311"];

/** No test may hang the file, whatever a client or the cluster does. */
const DEADLINE = { timeout: 60_000 };

const ERRORS = [
  { code: 160, message: "illegal json", what: "a payload that is not JSON" },
  { code: 161, message: "json out of bound", what: "a payload over 16 KiB" },
  { code: 162, message: "json depth out of bound", what: "JSON nested deeper than 8" },
  { code: 163, message: "state key not found", what: "no state key" },
  { code: 164, message: "desired or reported key not found", what: "state without either" },
  { code: 165, message: "invalid parameters", what: "an illegal key and an unknown one" },
] as const;
type ErrorCode = (typeof ERRORS)[number]["code"];

const deep = (n: number): unknown => (n === 0 ? 1 : { x: deep(n - 1) });

let nats: Server;
let redis: Server;
let umbra: ServiceProcess;
let bus: Awaited<ReturnType<typeof connectBus>> | undefined;
let cloud: ShadowClient;
let port: number;
/** The client options carrying each error case's payload. */
let errorPayloads: Record<ErrorCode, string[]>;
const clients: CliClient[] = [];
const devices = new Map<string, RegisteredDevice>();

const DEVICE_NAMES = [
  ...PROTOCOLS.flatMap((p) => [`acc-${p}`, `dlt-${p}`, `cloud-${p}`, `nodelta-${p}`]),
  ...PROTOCOLS.flatMap((p) => [`err-${p}`, `g167-${p}`]),
  "get",
  "catch",
  "qos1",
  "takeover",
  "intruder",
  "victim",
  "forged",
];

/** Each test has devices of its own: `p1/<name>`. */
const device = (name: string): RegisteredDevice => {
  const d = devices.get(name);
  if (d === undefined) throw new Error(`device ${name} was not registered`);
  return d;
};
const key = (d: RegisteredDevice) => `${d.productId}/${d.deviceName}`;
const image = (d: RegisteredDevice, suffix: string) =>
  `$sys/${d.productId}/${d.deviceName}/image/${suffix}`;
const message = (payload: unknown): string[] => ["-m", JSON.stringify(payload)];

/** A client that keeps running: killed in `after` if a failing test left it behind. */
const start = (...args: Parameters<typeof startCliClient>): CliClient => {
  const client = startCliClient(...args);
  clients.push(client);
  return client;
};

/**
 * mosquitto_rr as the device: over one connection, subscribes to `…/image/{answer}`,
 * publishes `body` (client options: -m or -n) on `…/image/{request}`, and returns
 * the first message it receives.
 */
const rr = async (
  d: RegisteredDevice,
  protocol: Protocol,
  request: string,
  answer: string,
  body: readonly string[],
): Promise<Answer> => {
  const run = await runCliClient(
    "mosquitto_rr",
    deviceCommand({
      port,
      device: d,
      protocol,
      topics: [image(d, request)],
      answer: image(d, answer),
      body,
      waitS: CLI_WAIT_S,
      format: CLI_FORMAT,
    }),
  );
  assertExit(run, 0);
  const got: Answer = printedAnswer(run.stdout, run.command);
  assert.equal(got.topic, image(d, answer));
  return got;
};

/** A delta in the seed's shape: the differing keys, their timestamps, version, time. */
const assertDelta = (body: unknown, state: Record<string, unknown>, version: number): void => {
  const { timestamp } = body as Image;
  assert.ok(Number.isInteger(timestamp), `timestamp in ${JSON.stringify(body)}`);
  const metadata = Object.fromEntries(Object.keys(state).map((k) => [k, { timestamp }]));
  assert.deepEqual(body, { state, metadata, version, timestamp });
};

before(async () => {
  requireMosquittoClients();
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  umbra = await startService(["all"], {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    MQTT_PORT: "0",
    HTTP_PORT: "0",
    MQTT_HOST: "127.0.0.1",
    UMBRA_AUTH: "on",
  });
  port = Number(umbra.ready.edge?.mqttPort);
  assert.ok(Number.isInteger(port) && port > 0, "the edge's ready line carries its MQTT port");
  for (const name of DEVICE_NAMES) devices.set(name, registerDevice(redis.url, "p1", name));
  bus = await connectBus({ url: nats.url, name: "test-cloud" });
  cloud = new ShadowClient(bus, 1024);

  // 17 KiB on the command line: mosquitto_rr 2.0.11 ignores -f (it publishes nothing).
  errorPayloads = {
    160: ["-m", "{not json"],
    161: message({ state: { reported: { big: "x".repeat(17 * 1024) } } }),
    162: message({ state: { reported: deep(12) } }),
    163: message({ reported: { a: 1 } }),
    164: message({ state: {} }),
    165: message({ state: { reported: { "bad key$": 1 }, other: 2 } }),
  };
});

after(async () => {
  for (const client of clients) client.kill();
  await bus?.close();
  await umbra?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe("OneNET device image with mosquitto_rr, mosquitto_sub and mosquitto_pub", () => {
  for (const protocol of PROTOCOLS) {
    it(
      `update of desired and reported → update/accepted echoing the state, with version, timestamp and metadata (${protocol})`,
      DEADLINE,
      async () => {
        const d = device(`acc-${protocol}`);
        const since = Math.floor(Date.now() / 1000);
        const state = { desired: { color: "green" }, reported: { color: "red" } };
        const { body } = await rr(d, protocol, "update", "update/accepted", message({ state }));
        const { timestamp } = body as Image;
        assert.ok(Number.isInteger(timestamp) && timestamp >= since, `timestamp ${timestamp}`);
        assert.deepEqual(body, {
          state,
          metadata: {
            desired: { color: { timestamp } },
            reported: { color: { timestamp } },
          },
          version: 1,
          timestamp,
        });
      },
    );
  }

  for (const protocol of PROTOCOLS) {
    it(
      `a device's write leaving desired ≠ reported → update/delta on its connection, in the seed's shape (${protocol})`,
      DEADLINE,
      async () => {
        const d = device(`dlt-${protocol}`);
        const state = { desired: { color: "green", size: 2 }, reported: { color: "red", size: 2 } };
        const { body } = await rr(d, protocol, "update", "update/delta", message({ state }));
        assertDelta(body, { color: "green" }, 1);
      },
    );
  }

  for (const protocol of PROTOCOLS) {
    it(
      `a cloud update of desired reaches the device's mosquitto_sub session as update/delta (${protocol})`,
      DEADLINE,
      async () => {
        const d = device(`cloud-${protocol}`);
        const sub = start(
          "mosquitto_sub",
          deviceCommand({
            port,
            device: d,
            protocol,
            debug: true,
            count: 1,
            waitS: CLI_WAIT_S,
            format: CLI_FORMAT,
            topics: [image(d, "update/delta")],
          }),
        );
        // The subscription is in place once the SUBACK is in: the cloud update comes after.
        await sub.waitForLine(/received SUBACK/);
        assert.equal(await sub.waitForLine(/^Subscribed \(mid: \d+\):/), "Subscribed (mid: 1): 0");
        const reply = await cloud.update(key(d), { desired: { mode: "eco" } });
        assert.equal(reply.ok, true, JSON.stringify(reply));
        const run = { ...(await sub.finished()), command: sub.command };
        assertExit(run, 0);
        const delta = printedAnswer(sub.lines, sub.command);
        assert.equal(delta.topic, image(d, "update/delta"));
        assertDelta(delta.body, { mode: "eco" }, 1);
      },
    );
  }

  it(
    "get with an empty payload → get/accepted with the whole image (MQTT 5 -m '', MQTT 3.1.1 -n)",
    DEADLINE,
    async () => {
      const d = device("get");
      const state = { desired: { color: "green" }, reported: { color: "red", temperature: 21 } };
      const written = await rr(d, "mqttv5", "update", "update/accepted", message({ state }));
      for (const [protocol, empty] of [
        ["mqttv5", ["-m", ""]],
        ["mqttv311", ["-n"]],
      ] as const) {
        const { body } = await rr(d, protocol, "get", "get/accepted", empty);
        // `timestamp` is when the answer was sent (seconds): it may be a later second.
        const { timestamp, ...image } = body as { timestamp: number };
        const { timestamp: writtenAt, ...writtenImage } = written.body as { timestamp: number };
        assert.deepEqual(image, writtenImage, protocol);
        assert.ok(timestamp >= writtenAt, protocol);
      }
    },
  );

  it(
    "reported catching up with desired → update/accepted with the reported state",
    DEADLINE,
    async () => {
      const d = device("catch");
      const state = { desired: { color: "green" }, reported: { color: "red" } };
      await rr(d, "mqttv5", "update", "update/accepted", message({ state }));
      const caughtUp = { reported: { color: "green" } };
      const { body } = await rr(
        d,
        "mqttv311",
        "update",
        "update/accepted",
        message({ state: caughtUp }),
      );
      const { timestamp } = body as Image;
      assert.deepEqual(body, {
        state: caughtUp,
        metadata: { reported: { color: { timestamp } } },
        version: 2,
        timestamp,
      });
      const got = (await rr(d, "mqttv5", "get", "get/accepted", ["-n"])).body as Image;
      assert.deepEqual(got.state, { desired: { color: "green" }, reported: { color: "green" } });
      assert.equal(got.version, 2);
    },
  );

  for (const protocol of PROTOCOLS) {
    it(
      `reported catching up with desired sends no delta: the next delta on that connection is the next cloud change (${protocol})`,
      DEADLINE,
      async () => {
        const d = device(`nodelta-${protocol}`);
        const state = { desired: { color: "green" }, reported: { color: "red" } };
        await rr(d, protocol, "update", "update/accepted", message({ state }));
        // One connection: subscribed to update/delta, the catching-up write at QoS 1.
        const client = start(
          "mosquitto_rr",
          deviceCommand({
            port,
            device: d,
            protocol,
            debug: true,
            qos: 1,
            topics: [image(d, "update")],
            answer: image(d, "update/delta"),
            body: message({ state: { reported: { color: "green" } } }),
            waitS: CLI_WAIT_S,
            format: CLI_FORMAT,
          }),
        );
        // The PUBACK follows the stored write (version 2). Its events go out before those
        // of any later write: a delta for it would be the first the client gets.
        await client.waitForLine(/received PUBACK/);
        const reply = await cloud.update(key(d), { desired: { color: "blue" } });
        assert.deepEqual(reply.ok && reply.version, 3, JSON.stringify(reply));
        const run = { ...(await client.finished()), command: client.command };
        assertExit(run, 0);
        assertDelta(printedAnswer(client.lines, client.command).body, { color: "blue" }, 3);
      },
    );
  }

  for (const { code, message: errMsg, what } of ERRORS) {
    it(
      `${code} ${errMsg}: ${what} → update/rejected, nothing written (MQTT 5 and 3.1.1)`,
      DEADLINE,
      async () => {
        for (const protocol of PROTOCOLS) {
          const d = device(`err-${protocol}`);
          const { body } = await rr(d, protocol, "update", "update/rejected", errorPayloads[code]);
          assert.deepEqual(body, { err_code: code, err_msg: errMsg }, protocol);
          const stored = await cloud.get(key(d));
          assert.equal(stored.ok, false, `${protocol}: ${JSON.stringify(stored)}`);
        }
      },
    );
  }

  it(
    "get before any write → get/rejected 167 device image not exists (MQTT 5 and 3.1.1)",
    DEADLINE,
    async () => {
      for (const protocol of PROTOCOLS) {
        const d = device(`g167-${protocol}`);
        const { body } = await rr(d, protocol, "get", "get/rejected", ["-n"]);
        assert.deepEqual(body, { err_code: 167, err_msg: "device image not exists" }, protocol);
      }
    },
  );

  it(
    "QoS 1: mosquitto_pub -q 1 exits 0 once the PUBACK is in, and the write is stored by then",
    DEADLINE,
    async () => {
      const d = device("qos1");
      for (const [i, protocol] of PROTOCOLS.entries()) {
        const reported = { temperature: 20 + i };
        const run = await runCliClient(
          "mosquitto_pub",
          deviceCommand({
            port,
            device: d,
            protocol,
            debug: true,
            qos: 1,
            topics: [image(d, "update")],
            body: message({ state: { reported } }),
          }),
        );
        assertExit(run, 0);
        const lines = run.stdout.split("\n");
        const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
        const sent = at(/sending PUBLISH \(d0, q1, r0, m1, '\$sys\/p1\/qos1\/image\/update'/);
        const acked = at(/received PUBACK \(Mid: 1, RC:0\)/);
        const left = at(/sending DISCONNECT/);
        assert.ok(0 <= sent && sent < acked && acked < left, describeRun(run.command, run));
        const stored = await cloud.get(key(d));
        assert.ok(stored.ok, JSON.stringify(stored));
        assert.equal(stored.version, i + 1);
        assert.deepEqual(stored.document?.reported, reported);
      }

      // A QoS 1 get is acknowledged too, and answered on the same connection.
      const pub = await runCliClient(
        "mosquitto_pub",
        deviceCommand({
          port,
          device: d,
          debug: true,
          qos: 1,
          topics: [image(d, "get")],
          body: ["-n"],
        }),
      );
      assertExit(pub, 0);
      assert.match(pub.stdout, /received PUBACK \(Mid: 1, RC:0\)/);
      const client = start(
        "mosquitto_rr",
        deviceCommand({
          port,
          device: d,
          protocol: "mqttv311",
          debug: true,
          qos: 1,
          topics: [image(d, "get")],
          answer: image(d, "get/accepted"),
          body: ["-n"],
          waitS: CLI_WAIT_S,
          format: CLI_FORMAT,
        }),
      );
      const run = { ...(await client.finished()), command: client.command };
      assertExit(run, 0);
      assert.ok(
        client.lines.some((l) => /received PUBACK/.test(l)),
        describeRun(run.command, run),
      );
      const got = printedAnswer(client.lines, client.command);
      assert.equal(got.topic, image(d, "get/accepted"));
      assert.equal((got.body as Image).version, 2);
    },
  );

  it(
    "one session per device: a second connection with the client id takes the session over (MQTT 5 DISCONNECT 0x8e)",
    DEADLINE,
    async () => {
      const d = device("takeover");
      // MQTT 5: 3.1.1 has no DISCONNECT from the server; the socket just closes (and
      // mosquitto_sub would reconnect and take the session back).
      const first = start(
        "mosquitto_sub",
        deviceCommand({
          port,
          device: d,
          protocol: "mqttv5",
          debug: true,
          waitS: CLI_WAIT_S,
          format: CLI_FORMAT,
          topics: [image(d, "update/accepted")],
        }),
      );
      await first.waitForLine(/received SUBACK/);
      const state = { reported: { on: true } };
      const { body } = await rr(d, "mqttv5", "update", "update/accepted", message({ state }));
      assert.deepEqual((body as Image).state, state);
      const run = { ...(await first.finished()), command: first.command };
      assertExit(run, 0);
      assert.ok(first.lines.includes("Received DISCONNECT (142)"), describeRun(first.command, run));
      // The answer went to the session that asked, not to the one taken over.
      assert.deepEqual(printedLines(first.lines), [], describeRun(first.command, run));
    },
  );

  it(
    "a device cannot subscribe to another device's image topics: SUBACK refuses every filter (3.1.1 0x80, MQTT 5 0x87)",
    DEADLINE,
    async () => {
      const intruder = device("intruder");
      const victim = device("victim");
      for (const [protocol, refused] of [
        ["mqttv311", 128],
        ["mqttv5", 135],
      ] as const) {
        const run = await runCliClient(
          "mosquitto_sub",
          deviceCommand({
            port,
            device: intruder,
            protocol,
            debug: true,
            waitS: CLI_WAIT_S,
            format: CLI_FORMAT,
            topics: [
              image(victim, "update/accepted"),
              image(victim, "#"),
              "$sys/p1/+/image/get/accepted",
            ],
          }),
        );
        const output = describeRun(run.command, run);
        assert.ok(run.stdout.includes("received SUBACK"), output);
        assert.ok(
          run.stdout.includes(`Subscribed (mid: 1): ${refused}, ${refused}, ${refused}\n`),
          output,
        );
        assert.match(run.stderr, /All subscription requests were denied\./, output);
        assert.deepEqual(printedLines(run.stdout), [], output);
      }
    },
  );

  it(
    "a device cannot write another device's image: the publish is dropped (3.1.1 PUBACK all the same, MQTT 5 DISCONNECT 0x87)",
    DEADLINE,
    async () => {
      const intruder = device("intruder");
      const victim = device("victim");
      const publish = (protocol: Protocol) =>
        runCliClient(
          "mosquitto_pub",
          deviceCommand({
            port,
            device: intruder,
            protocol,
            debug: true,
            qos: 1,
            topics: [image(victim, "update")],
            body: message({ state: { desired: { hijacked: true } } }),
          }),
        );
      // MQTT 3.1.1 cannot refuse a PUBLISH: acknowledged, else it would be retried forever.
      const v3 = await publish("mqttv311");
      assertExit(v3, 0);
      assert.match(v3.stdout, /received PUBACK \(Mid: 1, RC:0\)/, describeRun(v3.command, v3));
      // MQTT 5: the connection is closed with 0x87 (not authorized), no PUBACK.
      const v5 = await publish("mqttv5");
      assert.notEqual(v5.code, 0, describeRun(v5.command, v5));
      assert.match(v5.stdout, /Received DISCONNECT \(135\)/, describeRun(v5.command, v5));
      assert.doesNotMatch(v5.stdout, /PUBACK/, describeRun(v5.command, v5));
      // Both decided before the PUBACK / DISCONNECT: neither image exists.
      for (const d of [victim, intruder]) {
        const stored = await cloud.get(key(d));
        assert.equal(stored.ok, false, `${key(d)}: ${JSON.stringify(stored)}`);
      }
    },
  );

  it(
    "a bad token is refused: 3.1.1 CONNACK 4 'bad user name or password', MQTT 5 reason 0x86",
    DEADLINE,
    async () => {
      const d = device("forged");
      const forged = d.token.replace(/sign=[^&]*/, "sign=AAAA");
      assert.notEqual(forged, d.token);
      const expected = [
        ["mqttv311", 4, "Connection error: Connection Refused: bad user name or password."],
        ["mqttv5", 0x86, "Connection error: Bad User Name or Password"],
      ] as const;
      for (const [protocol, code, says] of expected) {
        const common = { port, device: d, password: forged, protocol };
        const pub = await runCliClient(
          "mosquitto_pub",
          deviceCommand({
            ...common,
            qos: 1,
            topics: [image(d, "update")],
            body: message({ state: { reported: { forged: true } } }),
          }),
        );
        assertExit(pub, code);
        assert.ok(pub.stderr.includes(says), describeRun(pub.command, pub));
        const sub = await runCliClient(
          "mosquitto_sub",
          deviceCommand({ ...common, waitS: CLI_WAIT_S, topics: [image(d, "update/accepted")] }),
        );
        assertExit(sub, code);
        assert.ok(sub.stderr.includes(says), describeRun(sub.command, sub));
        // mosquitto_rr 2.0.11 words a 3.1.1 refusal with the MQTT 5 reason string of the
        // same number ("Disconnect with Will Message" for 4): only its exit code is pinned.
        const request = await runCliClient(
          "mosquitto_rr",
          deviceCommand({
            ...common,
            topics: [image(d, "get")],
            answer: image(d, "get/accepted"),
            body: ["-n"],
            waitS: CLI_WAIT_S,
          }),
        );
        assertExit(request, code);
        assert.deepEqual(printedLines(request.stdout), [], describeRun(request.command, request));
      }
      const stored = await cloud.get(key(d));
      assert.equal(stored.ok, false, JSON.stringify(stored));
    },
  );

  it(
    "an unregistered device is refused: 3.1.1 CONNACK 5 'not authorised', MQTT 5 reason 0x87",
    DEADLINE,
    async () => {
      const token = device("forged").token;
      const ghost = { productId: "p1", deviceName: "ghost", token };
      for (const [protocol, code, says] of [
        ["mqttv311", 5, "Connection error: Connection Refused: not authorised."],
        ["mqttv5", 0x87, "Connection error: Not authorized"],
      ] as const) {
        const pub = await runCliClient(
          "mosquitto_pub",
          deviceCommand({
            port,
            device: ghost,
            protocol,
            topics: ["$sys/p1/ghost/image/get"],
            body: ["-n"],
          }),
        );
        assertExit(pub, code);
        assert.ok(pub.stderr.includes(says), describeRun(pub.command, pub));
      }
    },
  );
});

/**
 * Live change streams end to end: NATS (with JetStream) and Redis of the test's own,
 * shard, reply, edge and api as four processes; devices over MQTT (mqtt.js), the
 * application over real HTTP, its Server-Sent Events read as they arrive.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type HttpAnswer,
  httpClient,
  openEventStream,
  pollUntil,
  type ServiceProcess,
  type SseEvent,
  SseStream,
  startApiCluster,
  startNats,
  startRedis,
  startService,
  TestDevice,
} from "../src/harness.js";

const ADMIN = "admin-key-0123456789abcdef";
const EV_ONLY = "ev-only-key-0123456789abcdef";

let cluster: ApiCluster;
let base: string;
let mqttUrl: string;
let http: ReturnType<typeof httpClient>;
const devices: TestDevice[] = [];

interface AppEvent {
  device: string;
  source: "device" | "cloud";
  op: string;
  version: number;
  timestamp: number;
  applied: { desired?: Record<string, unknown> | null; reported?: Record<string, unknown> | null };
  delta?: { state: unknown; metadata: unknown; version: number; timestamp: number };
}

const data = (event: SseEvent): AppEvent => JSON.parse(event.data) as AppEvent;
const dev = (pid: string, dn: string) => `/v1/products/${pid}/devices/${dn}`;

/** Opens a stream that must be 200. */
const stream = async (
  path: string,
  options: { key?: string; lastEventId?: string } = { key: ADMIN },
  at = base,
): Promise<SseStream> => {
  const opened = await openEventStream(at, path, { key: ADMIN, ...options });
  if (!(opened instanceof SseStream))
    assert.fail(`${path}: ${opened.status} ${JSON.stringify(opened.body)}`);
  assert.match(opened.headers.get("content-type") ?? "", /^text\/event-stream/);
  return opened;
};

/** Opens a stream that must be refused with a problem document of this status. */
const refused = async (
  path: string,
  status: number,
  options: { key?: string; lastEventId?: string },
): Promise<void> => {
  const answer = await openEventStream(base, path, options);
  if (answer instanceof SseStream) {
    answer.close();
    assert.fail(`${path} opened a stream; expected ${status}`);
  }
  const got = answer as HttpAnswer;
  assert.equal(got.status, status, JSON.stringify(got.body));
  assert.match(got.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const problem = got.body as { type: string; status: number; detail: string; title: string };
  assert.equal(problem.status, status);
  assert.match(problem.type, /^urn:umbra:problem:/);
  assert.equal(typeof problem.detail, "string");
};

const createDevice = async (pid: string, dn: string) => {
  const created = await http("POST", `/v1/products/${pid}/devices`, {
    key: ADMIN,
    body: { name: dn },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const token = await http("POST", `${dev(pid, dn)}/token`, { key: ADMIN, body: {} });
  return { productId: pid, deviceName: dn, token: (token.body as { token: string }).token };
};

interface Connected {
  readonly device: TestDevice;
  /** `$sys/{pid}/{dn}/image/update` */
  readonly update: string;
}

/** A registered, connected device subscribed to its image topics. */
const connect = async (pid: string, dn: string): Promise<Connected> => {
  const device = await TestDevice.connect(mqttUrl, await createDevice(pid, dn), {
    subscribe: [`$sys/${pid}/${dn}/image/#`],
  });
  devices.push(device);
  return { device, update: `$sys/${pid}/${dn}/image/update` };
};

/** The device reports and gets its accepted answer. */
const report = async (d: Connected, reported: Record<string, unknown>) => {
  await d.device.client.publishAsync(d.update, JSON.stringify({ state: { reported } }));
  return (await d.device.next("image/update/accepted")).body as { version: number };
};

const desire = async (pid: string, dn: string, desired: Record<string, unknown>) => {
  const answer = await http("PATCH", `${dev(pid, dn)}/shadow`, {
    key: ADMIN,
    type: "application/merge-patch+json",
    body: { desired },
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body as { version: number };
};

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${ADMIN}=*,${EV_ONLY}=ev`,
    adminKey: ADMIN,
    products: ["ev", "other"],
  });
  mqttUrl = cluster.mqttUrls[0] as string;
  base = cluster.apiUrls[0] as string;
  http = cluster.http[0] as ReturnType<typeof httpClient>;
});

after(async () => {
  await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
  await cluster?.stop();
});

describe("event streams (SSE)", () => {
  it("a device report shows up on the device's stream and on the product's", async () => {
    const sensor = await connect("ev", "sensor");
    const neighbour = await connect("ev", "neighbour");
    const ofDevice = await stream(`${dev("ev", "sensor")}/events`);
    const ofProduct = await stream("/v1/products/ev/events");
    try {
      assert.equal(await ofDevice.nextComment(), "resumable");
      await report(neighbour, { on: true });
      const accepted = await report(sensor, { temperature: 21.5 });

      const seen = await ofDevice.next("change");
      assert.match(seen.id ?? "", /^\d+\.\d+$/);
      const event = data(seen);
      assert.equal(typeof event.timestamp, "number");
      assert.deepEqual(
        { ...event, timestamp: 0 },
        {
          device: "sensor",
          source: "device",
          op: "update",
          version: accepted.version,
          timestamp: 0,
          applied: { reported: { temperature: 21.5 } },
        },
      );
      // The product's stream has both devices', in order, with the same ids.
      const first = await ofProduct.next("change");
      assert.equal(data(first).device, "neighbour");
      const second = await ofProduct.next("change");
      assert.deepEqual(second, seen);
    } finally {
      ofDevice.close();
      ofProduct.close();
    }
  });

  it("a cloud desired update shows up with the delta the device got", async () => {
    const lamp = await connect("ev", "lamp");
    await report(lamp, { color: "red", level: 3 });
    const events = await stream(`${dev("ev", "lamp")}/events`);
    try {
      const patched = await desire("ev", "lamp", { color: "green", level: 3 });
      const sent = (await lamp.device.next("image/update/delta")).body;
      const event = data(await events.next("change"));
      assert.equal(event.source, "cloud");
      assert.equal(event.op, "update");
      assert.equal(event.version, patched.version);
      assert.deepEqual(event.applied, { desired: { color: "green", level: 3 } });
      assert.deepEqual(event.delta, sent);
      assert.deepEqual(event.delta?.state, { color: "green" });
      // The device catches up: its report empties the delta, and the event says so.
      await report(lamp, { color: "green" });
      const caught = data(await events.next("change"));
      assert.equal(caught.source, "device");
      assert.equal(caught.delta, undefined);
      // A delete shows too.
      const deleted = await http("DELETE", `${dev("ev", "lamp")}/shadow`, { key: ADMIN });
      assert.equal(deleted.status, 204);
      const gone = data(await events.next("change"));
      assert.equal(gone.op, "delete");
      assert.deepEqual(gone.applied, { desired: null, reported: null });
    } finally {
      events.close();
    }
  });

  it("resumes after Last-Event-ID with exactly the events after it", async (t) => {
    const a = await connect("ev", "burst-a");
    await createDevice("ev", "burst-b");
    const first = await stream("/v1/products/ev/events");
    const seen: SseEvent[] = [];
    try {
      // Several reports in one go usually land in one shard turn, hence one message:
      // resuming then skips part of a message.
      await Promise.all(
        [1, 2, 3, 4, 5].map((n) =>
          a.device.client.publishAsync(a.update, JSON.stringify({ state: { reported: { n } } })),
        ),
      );
      for (let i = 0; i < 5; i++) await a.device.next("image/update/accepted");
      await desire("ev", "burst-b", { mode: "eco" });
      for (let i = 0; i < 6; i++) seen.push(await first.next("change"));
    } finally {
      first.close();
    }
    /** What a change of this test wrote. */
    const label = (e: SseEvent): string => {
      const d = data(e);
      return d.applied.reported !== undefined
        ? `n=${d.applied.reported?.n}`
        : `mode=${d.applied.desired?.mode}`;
    };
    assert.deepEqual(seen.map(label), ["n=1", "n=2", "n=3", "n=4", "n=5", "mode=eco"]);
    t.diagnostic(`ids: ${seen.map((e) => e.id).join(" ")}`);
    // While nobody listens: two more changes.
    await report(a, { n: 6 });
    await desire("ev", "burst-b", { mode: "off" });
    const later = ["n=6", "mode=off"];

    for (const k of [0, 1, 3, 5]) {
      const resumed = await stream("/v1/products/ev/events", {
        key: ADMIN,
        lastEventId: seen[k]?.id as string,
      });
      try {
        // The kept events after the id, exactly as first sent (ids too)…
        for (const expected of seen.slice(k + 1))
          assert.deepEqual(await resumed.next("change"), expected);
        // …then the changes made since, and nothing else.
        const since: string[] = [];
        for (let i = 0; i < later.length; i++) since.push(label(await resumed.next("change")));
        assert.deepEqual(since, later, `resumed after ${seen[k]?.id}`);
        await report(a, { n: 100 + k });
        assert.equal(label(await resumed.next("change")), `n=${100 + k}`);
        later.push(`n=${100 + k}`);
      } finally {
        resumed.close();
      }
    }

    // A device's stream resumes the same way, without the other device's events.
    const ofDevice = await stream(`${dev("ev", "burst-a")}/events`, {
      key: ADMIN,
      lastEventId: seen[1]?.id as string,
    });
    try {
      const expected = ["n=3", "n=4", "n=5", ...later.filter((l) => l.startsWith("n="))];
      const got: string[] = [];
      for (let i = 0; i < expected.length; i++) got.push(label(await ofDevice.next("change")));
      assert.deepEqual(got, expected);
    } finally {
      ofDevice.close();
    }
  });

  it("an id from before the history was reset starts with a missed event", async () => {
    const events = await stream("/v1/products/ev/events", {
      key: ADMIN,
      lastEventId: "999999999.0",
    });
    try {
      const missed = await events.next();
      assert.equal(missed.event, "missed");
      assert.equal(missed.id, undefined);
      assert.equal(JSON.parse(missed.data).reason, "reset");
      // Then everything kept, from the oldest: the first report of the first test.
      const oldest = data(await events.next("change"));
      assert.equal(oldest.device, "neighbour");
    } finally {
      events.close();
    }
  });

  it("refuses with problem documents: no key, a wrong key, another product, unknown, bad id", async () => {
    const path = `${dev("ev", "sensor")}/events`;
    await refused(path, 401, {});
    await refused(path, 401, { key: "x".repeat(24) });
    await refused("/v1/products/other/events", 403, { key: EV_ONLY });
    await refused(`${dev("ev", "nobody")}/events`, 404, { key: ADMIN });
    await refused("/v1/products/nothing/events", 404, { key: ADMIN });
    await refused(path, 400, { key: ADMIN, lastEventId: "yesterday" });
    // A key for the product opens it.
    (await stream("/v1/products/ev/events", { key: EV_ONLY })).close();
  });

  it("lets go of a stream when its client disconnects", async () => {
    const gauge = async () => {
      const text = String((await http("GET", "/metrics")).body);
      return Number(/^umbra_api_event_streams (\d+)$/m.exec(text)?.[1]);
    };
    const events = await stream("/v1/products/ev/events");
    await events.nextComment();
    assert.ok((await gauge()) >= 1);
    events.close();
    await pollUntil(async () => (await gauge()) === 0, {
      timeoutMs: 10_000,
      what: "the API counts no open event stream",
    });
  });
});

describe("event streams without JetStream", () => {
  it("are live only: new events without ids, a missed event for Last-Event-ID, heartbeats", async () => {
    // A cluster of its own (its own Redis too: shards of one Redis form one cluster).
    const [plain, store] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
    const own: ServiceProcess[] = [];
    try {
      const env = { NATS_URL: plain.url, REDIS_URL: store.url };
      own.push(await startService(["shard"], env));
      own.push(await startService(["reply"], env));
      const api = await startService(["api"], {
        ...env,
        HTTP_PORT: "0",
        HTTP_HOST: "127.0.0.1",
        API_KEYS: `${ADMIN}=*`,
        API_EVENTS_HEARTBEAT_MS: "200",
      });
      own.push(api);
      await api.waitForLog((line) => /no JetStream/.test(String(line.msg)));
      const at = `http://127.0.0.1:${api.ready.api?.httpPort}`;
      const call = httpClient(at);
      assert.equal(
        (await call("POST", "/v1/products", { key: ADMIN, body: { id: "ev" } })).status,
        201,
      );
      const made = await call("POST", "/v1/products/ev/devices", {
        key: ADMIN,
        body: { name: "sensor" },
      });
      assert.equal(made.status, 201);
      const events = await stream(`${dev("ev", "sensor")}/events`, { key: ADMIN }, at);
      const resumed = await stream(
        `${dev("ev", "sensor")}/events`,
        { key: ADMIN, lastEventId: "3.0" },
        at,
      );
      try {
        assert.equal(await events.nextComment(), "live only");
        const patched = await call("PATCH", `${dev("ev", "sensor")}/shadow`, {
          key: ADMIN,
          type: "application/merge-patch+json",
          body: { desired: { temperature: 19 } },
        });
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        const change = await events.next("change");
        assert.equal(change.id, undefined);
        assert.deepEqual(data(change).applied, { desired: { temperature: 19 } });
        assert.deepEqual(data(change).delta?.state, { temperature: 19 });

        const missed = await resumed.next();
        assert.equal(missed.event, "missed");
        assert.equal(JSON.parse(missed.data).reason, "no-history");
        assert.deepEqual(data(await resumed.next("change")), data(change));
        // Quiet streams get a comment now and then.
        let comment = await events.nextComment();
        while (comment !== "keep-alive") comment = await events.nextComment();
      } finally {
        events.close();
        resumed.close();
      }
    } finally {
      await Promise.all(own.map((p) => p.stop()));
      await Promise.all([plain.stop(), store.stop()]);
    }
  });
});

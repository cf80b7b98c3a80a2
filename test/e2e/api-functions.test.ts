/**
 * Remote function calls over the HTTP API (seed 001): queued as `desired._function`,
 * delivered to OneNET devices (mqtt.js) now or when they next connect, answered through
 * `reported._function_result`, timed out after their deadline, cleaned up after the
 * retention period. Shard, reply, edge and api as separate processes on NATS and Redis
 * of the test's own.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type HttpAnswer,
  type httpClient,
  pollUntil,
  startApiCluster,
  TestDevice,
} from "../src/harness.js";

const KEY = "functions-admin-key-0123456789";
const PID = "pf";

let cluster: ApiCluster;
let mqttUrl: string;
let http: ReturnType<typeof httpClient>;
/** A second API process whose finished calls are kept one second (FUNCTION_RETENTION_S=1). */
let shortRetention: ReturnType<typeof httpClient>;

interface Call {
  requestId: string;
  funcKey: string;
  params: Record<string, unknown>;
  status: "pending" | "completed" | "failed" | "timeout";
  timestamp: number;
  queuedAt: number;
  isOnline: boolean;
  deadline: number;
  finishedAt?: number;
  result?: unknown;
  position?: number;
}
interface Delta {
  state: { _function?: Call } & Record<string, unknown>;
  version: number;
}

const functions = (dn: string) => `/v1/products/${PID}/devices/${dn}/functions`;

const register = async (dn: string) => {
  const made = await http("POST", `/v1/products/${PID}/devices`, { key: KEY, body: { name: dn } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const token = await http("POST", `/v1/products/${PID}/devices/${dn}/token`, {
    key: KEY,
    body: {},
  });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return { productId: PID, deviceName: dn, token: (token.body as { token: string }).token };
};

const call = async (dn: string, body: object, client = http): Promise<Call> => {
  const queued = await client("POST", functions(dn), { key: KEY, body });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  const c = queued.body as Call;
  assert.equal(queued.headers.get("location"), `${functions(dn)}/${c.requestId}`);
  return c;
};

const state = async (dn: string, requestId: string, client = http): Promise<HttpAnswer> =>
  client("GET", `${functions(dn)}/${requestId}`, { key: KEY });

const statusOf = async (dn: string, requestId: string): Promise<Call> => {
  const got = await state(dn, requestId);
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.body as Call;
};

const connect = (device: Awaited<ReturnType<typeof register>>) =>
  TestDevice.connect(mqttUrl, device, {
    subscribe: [`$sys/${PID}/${device.deviceName}/image/#`],
  });

/** The device answers a call as seed 001 shows: reported._function_result. */
const answer = async (
  device: TestDevice,
  dn: string,
  requestId: string,
  status: "completed" | "failed",
  result: unknown,
) => {
  await device.client.publishAsync(
    `$sys/${PID}/${dn}/image/update`,
    JSON.stringify({ state: { reported: { _function_result: { requestId, status, result } } } }),
    { qos: 1 },
  );
  await device.next("image/update/accepted");
};

const problem = (got: HttpAnswer, status: number, type: string) => {
  assert.equal(got.status, status, JSON.stringify(got.body));
  assert.match(got.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal((got.body as { type: string }).type, `urn:umbra:problem:${type}`);
};

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${KEY}=*`,
    adminKey: KEY,
    products: [PID],
    apis: [{}, { FUNCTION_RETENTION_S: "1" }],
  });
  mqttUrl = cluster.mqttUrls[0] as string;
  [http, shortRetention] = cluster.http as [typeof http, typeof http];
});

after(async () => {
  await cluster?.stop();
});

describe("function calls (seed 001)", () => {
  it("an offline device gets its queued calls, one at a time, once it connects", async () => {
    const d = await register("boiler");
    const first = await call("boiler", { funcKey: "setTemp", params: { target: 24 } });
    assert.match(first.requestId, /^pf_boiler_setTemp_\d+$/);
    assert.equal(first.status, "pending");
    assert.equal(first.isOnline, false);
    assert.deepEqual(first.params, { target: 24 });
    assert.equal(first.queuedAt, first.timestamp);
    assert.equal(first.position, 0);
    const second = await call("boiler", { funcKey: "reboot" });
    assert.equal(second.position, 1);

    // Cached on the shadow while the device is away: desired._function is the oldest call.
    const shadow = await http("GET", `/v1/products/${PID}/devices/boiler/shadow`, { key: KEY });
    const shown = (shadow.body as { desired: { _function: Call } }).desired._function;
    assert.equal(shown.requestId, first.requestId);
    assert.equal(shown.status, "pending");

    // The device connects: subscribing to its deltas brings the call; so does reading its image.
    const device = await connect(d);
    try {
      const onSubscribe = (await device.next("image/update/delta")).body as Delta;
      assert.equal(onSubscribe.state._function?.requestId, first.requestId);
      await device.client.publishAsync(`$sys/${PID}/boiler/image/get`, "");
      const image = (await device.next("image/get/accepted")).body as {
        state: { desired: { _function: Call } };
      };
      assert.equal(image.state.desired._function.requestId, first.requestId);
      assert.equal(image.state.desired._function.funcKey, "setTemp");
      assert.deepEqual(image.state.desired._function.params, { target: 24 });

      // Its answer completes the first call and brings the second as a delta.
      await answer(device, "boiler", first.requestId, "completed", { success: true });
      const delta = (await device.next("image/update/delta")).body as Delta;
      assert.equal(delta.state._function?.requestId, second.requestId);
      assert.equal(delta.state._function?.funcKey, "reboot");
      const done = await statusOf("boiler", first.requestId);
      assert.equal(done.status, "completed");
      assert.deepEqual(done.result, { success: true });
      assert.equal(typeof done.finishedAt, "number");
      assert.equal(done.position, undefined);
      assert.equal((await statusOf("boiler", second.requestId)).position, 0);

      await answer(device, "boiler", second.requestId, "failed", { code: 7 });
      const failed = await statusOf("boiler", second.requestId);
      assert.equal(failed.status, "failed");
      assert.deepEqual(failed.result, { code: 7 });
      const list = await http("GET", functions("boiler"), { key: KEY });
      assert.equal(list.status, 200);
      assert.deepEqual(
        (list.body as { functions: Call[] }).functions.map((c) => [c.funcKey, c.status]),
        [
          ["setTemp", "completed"],
          ["reboot", "failed"],
        ],
      );
    } finally {
      await device.close();
    }
  });

  it("an offline device that reports on connect gets the pending call in its delta", async () => {
    const d = await register("meter");
    const pending = await call("meter", { funcKey: "calibrate", params: { zero: true } });
    const device = await connect(d);
    try {
      await device.client.publishAsync(
        `$sys/${PID}/meter/image/update`,
        JSON.stringify({ state: { reported: { kwh: 12.5 } } }),
      );
      await device.next("image/update/accepted");
      const delta = (await device.next("image/update/delta")).body as Delta;
      assert.equal(delta.state._function?.requestId, pending.requestId);
      assert.deepEqual(delta.state._function?.params, { zero: true });
    } finally {
      await device.close();
    }
  });

  it("an online device gets several calls in order, each once, as the one before is answered", async () => {
    const d = await register("robot");
    const device = await connect(d);
    try {
      const calls: Call[] = [];
      for (const step of ["a", "b", "c"])
        calls.push(await call("robot", { funcKey: "move", params: { step } }));
      const seen: string[] = [];
      for (const c of calls) {
        const delta = (await device.next("image/update/delta")).body as Delta;
        const shown = delta.state._function;
        assert.ok(shown !== undefined, JSON.stringify(delta));
        seen.push(shown.params.step as string);
        assert.equal(shown.requestId, c.requestId);
        await answer(device, "robot", shown.requestId, "completed", { at: shown.params.step });
      }
      assert.deepEqual(seen, ["a", "b", "c"]);
      for (const c of calls)
        assert.equal((await statusOf("robot", c.requestId)).status, "completed");
      // Every call answered, none is pending: no delta beyond the three.
      assert.equal(
        device.topics().filter((t) => t.endsWith("image/update/delta")).length,
        3,
        device.topics().join(", "),
      );
    } finally {
      await device.close();
    }
  });

  it("a call not answered by its deadline times out, and the next call goes to the device", async () => {
    const d = await register("pump");
    const device = await connect(d);
    try {
      const slow = await call("pump", { funcKey: "drain", timeout: 1 });
      assert.equal(slow.deadline - slow.queuedAt, 1000);
      const next = await call("pump", { funcKey: "fill" });
      const first = (await device.next("image/update/delta")).body as Delta;
      assert.equal(first.state._function?.requestId, slow.requestId);
      // The device never answers: once the deadline has passed, the call reads as timeout.
      await pollUntil(async () => (await statusOf("pump", slow.requestId)).status === "timeout", {
        timeoutMs: 15_000,
        intervalMs: 200,
        what: "the call to time out",
      });
      const timedOut = await statusOf("pump", slow.requestId);
      assert.ok((timedOut.finishedAt ?? 0) >= slow.deadline);
      const moved = (await device.next("image/update/delta")).body as Delta;
      assert.equal(moved.state._function?.requestId, next.requestId);
      // A late answer does not revive it.
      await answer(device, "pump", slow.requestId, "completed", {});
      assert.equal((await statusOf("pump", slow.requestId)).status, "timeout");
    } finally {
      await device.close();
    }
  });

  it("a timed-out call moves the queue on by itself: the next call reaches the device unasked", async () => {
    const d = await register("valve");
    const device = await connect(d);
    try {
      const slow = await call("valve", { funcKey: "close", timeout: 1 });
      const next = await call("valve", { funcKey: "open" });
      const first = (await device.next("image/update/delta")).body as Delta;
      assert.equal(first.state._function?.requestId, slow.requestId);
      // Nobody reads or writes the shadow: the actor's own timer times the call out.
      const moved = (await device.next("image/update/delta", 15_000)).body as Delta;
      assert.equal(moved.state._function?.requestId, next.requestId);
      assert.equal((await statusOf("valve", slow.requestId)).status, "timeout");
    } finally {
      await device.close();
    }
  });

  it("a device that only subscribes to its deltas gets the call queued while it was away", async () => {
    const d = await register("heater");
    const queued = await call("heater", { funcKey: "warm", params: { to: 21 } });
    const device = await TestDevice.connect(mqttUrl, d, {
      subscribe: [`$sys/${PID}/heater/image/update/delta`],
    });
    try {
      const delta = (await device.next("image/update/delta")).body as Delta;
      assert.equal(delta.state._function?.requestId, queued.requestId);
      assert.deepEqual(delta.state._function?.params, { to: 21 });
    } finally {
      await device.close();
    }
  });

  it("records whether the device was online when the call was queued", async () => {
    const d = await register("lantern");
    const device = await connect(d);
    try {
      const online = await call("lantern", { funcKey: "blink" });
      assert.equal(online.isOnline, true);
    } finally {
      await device.close();
    }
    // Its edge removes the presence as the session closes.
    await pollUntil(
      async () => {
        const c = await call("lantern", { funcKey: "dim" });
        return c.isOnline === false;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: "the device to read as offline" },
    );
  });

  it("a finished call is cleaned up after the retention period", async () => {
    const d = await register("fan");
    const device = await connect(d);
    try {
      const c = await call("fan", { funcKey: "spin" }, shortRetention);
      await device.next("image/update/delta");
      await answer(device, "fan", c.requestId, "completed", { rpm: 900 });
      await pollUntil(
        async () => (await state("fan", c.requestId, shortRetention)).status === 404,
        {
          timeoutMs: 15_000,
          intervalMs: 200,
          what: "the finished call to be cleaned up",
        },
      );
      problem(await state("fan", c.requestId, shortRetention), 404, "function-not-found");
      const shadow = await http("GET", `/v1/products/${PID}/devices/fan/shadow`, { key: KEY });
      const doc = shadow.body as {
        desired: Record<string, unknown>;
        reported: Record<string, unknown>;
        functions?: unknown;
      };
      assert.equal(doc.functions, undefined);
      assert.equal(doc.desired._function, undefined);
      assert.equal(doc.reported._function_result, undefined);
    } finally {
      await device.close();
    }
  });

  it("refuses bad calls with problem documents", async () => {
    await register("lamp");
    const post = (body: unknown) => http("POST", functions("lamp"), { key: KEY, body });
    problem(await post({}), 400, "bad-request");
    problem(await post({ funcKey: "" }), 400, "bad-request");
    problem(await post({ funcKey: "$sys" }), 400, "bad-request");
    problem(await post({ funcKey: "f", params: [1] }), 400, "bad-request");
    problem(await post({ funcKey: "f", timeout: 0 }), 400, "bad-request");
    problem(await post({ funcKey: "f", timeout: 1.5 }), 400, "bad-request");
    problem(await post({ funcKey: "f", extra: 1 }), 400, "bad-request");
    problem(await post("{not json"), 400, "bad-json");
    problem(
      await http("POST", functions("lamp"), { key: KEY, body: "{}", type: "text/plain" }),
      415,
      "unsupported-media-type",
    );
    problem(
      await http("POST", functions("nobody"), { key: KEY, body: { funcKey: "f" } }),
      404,
      "unknown-device",
    );
    problem(await state("lamp", "pf_lamp_f_1"), 404, "function-not-found");
    const none = await http("GET", functions("lamp"), { key: KEY });
    assert.equal(none.status, 200);
    assert.deepEqual(none.body, { functions: [] });
    // At most 16 calls wait per device.
    for (let i = 0; i < 16; i++) await call("lamp", { funcKey: `f${i}` });
    problem(await post({ funcKey: "one-too-many" }), 429, "rate-limited");
  });
});

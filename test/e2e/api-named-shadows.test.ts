/**
 * Named shadows over the HTTP API, end to end: NATS and Redis of the test's own, shard,
 * reply, edge and api as four processes, the application over real HTTP. A device's
 * named shadows stand beside its classic one, each with its own document and version
 * line; `…/shadows` lists them; ETag / If-Match, delete, bad names, another product's
 * key and the event streams behave as for the classic shadow.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type HttpAnswer,
  type httpClient,
  openEventStream,
  type SseEvent,
  SseStream,
  startApiCluster,
} from "../src/harness.js";

const ADMIN = "named-admin-key-0123456789abcdef";
const P1_ONLY = "named-p1-only-key-0123456789abcdef";
const MERGE_PATCH = "application/merge-patch+json";

let cluster: ApiCluster;
let base: string;
let http: ReturnType<typeof httpClient>;

interface Doc {
  version: number;
  desired: Record<string, unknown>;
  reported: Record<string, unknown>;
}
interface Problem {
  type: string;
  status: number;
  detail: string;
  currentVersion?: number;
}

const dev = (pid: string, dn: string) => `/v1/products/${pid}/devices/${dn}`;
const classic = (dn: string) => `${dev("p1", dn)}/shadow`;
const named = (dn: string, name: string) => `${dev("p1", dn)}/shadows/${name}`;

const createDevice = async (pid: string, dn: string): Promise<void> => {
  const created = await http("POST", `/v1/products/${pid}/devices`, {
    key: ADMIN,
    body: { name: dn },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
};

/** A merge patch of desired that must be accepted: the document and its ETag. */
const desire = async (
  path: string,
  desired: Record<string, unknown>,
  ifMatch?: string,
): Promise<{ doc: Doc; etag: string | null }> => {
  const answer = await http("PATCH", path, {
    key: ADMIN,
    type: MERGE_PATCH,
    body: { desired },
    ...(ifMatch === undefined ? {} : { headers: { "if-match": ifMatch } }),
  });
  assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
  return { doc: answer.body as Doc, etag: answer.headers.get("etag") };
};

const read = async (path: string): Promise<{ doc: Doc; etag: string | null }> => {
  const answer = await http("GET", path, { key: ADMIN });
  assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
  return { doc: answer.body as Doc, etag: answer.headers.get("etag") };
};

const names = async (dn: string, key = ADMIN): Promise<string[]> => {
  const answer = await http("GET", `${dev("p1", dn)}/shadows`, { key });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return (answer.body as { names: string[] }).names;
};

const problem = (answer: HttpAnswer, status: number, type: string): Problem => {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(answer.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const p = answer.body as Problem;
  assert.equal(p.type, `urn:umbra:problem:${type}`);
  return p;
};

const stream = async (path: string): Promise<SseStream> => {
  const opened = await openEventStream(base, path, { key: ADMIN });
  if (!(opened instanceof SseStream))
    assert.fail(`${path}: ${opened.status} ${JSON.stringify(opened.body)}`);
  return opened;
};

const change = (event: SseEvent) =>
  JSON.parse(event.data) as { device: string; shadow?: string; op: string; version: number };

before(async () => {
  cluster = await startApiCluster({
    apiKeys: `${ADMIN}=*,${P1_ONLY}=p1`,
    adminKey: ADMIN,
    products: ["p1", "p2"],
  });
  base = cluster.apiUrls[0] as string;
  http = cluster.http[0] as ReturnType<typeof httpClient>;
});

after(async () => {
  await cluster?.stop();
});

describe("HTTP API: named shadows", () => {
  it("two named shadows beside the classic one, each its own document and version line; listed sorted", async () => {
    await createDevice("p1", "robot");
    assert.deepEqual(await names("robot"), []);
    const main = await desire(classic("robot"), { mode: "auto" });
    assert.equal(main.doc.version, 1);

    const arm = await desire(named("robot", "arm"), { angle: 30 });
    assert.equal(arm.doc.version, 1);
    assert.equal(arm.etag, '"1"');
    assert.deepEqual(arm.doc.desired, { angle: 30 });
    await desire(named("robot", "$wheels:front_1"), { speed: 1 });
    const wheels = await desire(named("robot", "$wheels:front_1"), { speed: 2, brake: false });
    assert.equal(wheels.doc.version, 2);
    assert.equal(wheels.etag, '"2"');
    assert.deepEqual(wheels.doc.desired, { speed: 2, brake: false });

    // Each read gives its own document; the classic one saw none of the named writes.
    const readMain = await read(classic("robot"));
    assert.equal(readMain.etag, '"1"');
    assert.deepEqual(readMain.doc.desired, { mode: "auto" });
    const readArm = await read(named("robot", "arm"));
    assert.equal(readArm.etag, '"1"');
    assert.deepEqual(readArm.doc.desired, { angle: 30 });
    // The dialect views work as for the classic shadow.
    const awsView = await http("GET", `${named("robot", "arm")}?view=aws`, { key: ADMIN });
    assert.equal(awsView.status, 200, JSON.stringify(awsView.body));
    const view = awsView.body as { state: { desired: unknown }; version: number };
    assert.deepEqual(view.state.desired, { angle: 30 });
    assert.equal(view.version, 1);

    assert.deepEqual(await names("robot"), ["$wheels:front_1", "arm"]);
    // A named shadow never written is not there.
    problem(await http("GET", named("robot", "leg"), { key: ADMIN }), 404, "shadow-not-found");
  });

  it("If-Match: a stale ETag is a 412 with the current version and changes nothing; the current one writes", async () => {
    await createDevice("p1", "valve");
    await desire(named("valve", "inlet"), { open: false });
    await desire(named("valve", "inlet"), { open: true });
    await desire(classic("valve"), { pressure: 3 });

    const stale = await http("PATCH", named("valve", "inlet"), {
      key: ADMIN,
      type: MERGE_PATCH,
      body: { desired: { open: false } },
      headers: { "if-match": '"1"' },
    });
    assert.equal(problem(stale, 412, "version-mismatch").currentVersion, 2);
    // The classic shadow's version (1) is no ETag of the named one's.
    const classicEtag = await http("DELETE", named("valve", "inlet"), {
      key: ADMIN,
      headers: { "if-match": '"1"' },
    });
    problem(classicEtag, 412, "version-mismatch");
    assert.deepEqual((await read(named("valve", "inlet"))).doc.desired, { open: true });

    const written = await desire(named("valve", "inlet"), { open: false }, '"2"');
    assert.equal(written.etag, '"3"');
    // And the named shadow's ETag is no ETag of the classic one's.
    const cross = await http("PATCH", classic("valve"), {
      key: ADMIN,
      type: MERGE_PATCH,
      body: { desired: { pressure: 4 } },
      headers: { "if-match": '"3"' },
    });
    assert.equal(problem(cross, 412, "version-mismatch").currentVersion, 1);
  });

  it("delete: 404 on read, gone from the list, the classic shadow and the other named one untouched; the version line goes on", async () => {
    await createDevice("p1", "lamp");
    await desire(classic("lamp"), { on: true });
    await desire(named("lamp", "night"), { dim: 10 });
    await desire(named("lamp", "night"), { dim: 20 });
    await desire(named("lamp", "day"), { dim: 90 });
    assert.deepEqual(await names("lamp"), ["day", "night"]);

    const deleted = await http("DELETE", named("lamp", "night"), {
      key: ADMIN,
      headers: { "if-match": '"2"' },
    });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    problem(await http("GET", named("lamp", "night"), { key: ADMIN }), 404, "shadow-not-found");
    problem(await http("DELETE", named("lamp", "night"), { key: ADMIN }), 404, "shadow-not-found");
    assert.deepEqual(await names("lamp"), ["day"]);
    const lamp = await read(classic("lamp"));
    assert.equal(lamp.etag, '"1"');
    assert.deepEqual(lamp.doc.desired, { on: true });
    assert.deepEqual((await read(named("lamp", "day"))).doc.desired, { dim: 90 });

    // The next write starts an empty document that goes on from the deleted version,
    // so an ETag from before the delete never matches again.
    const before = await http("PATCH", named("lamp", "night"), {
      key: ADMIN,
      type: MERGE_PATCH,
      body: { desired: { dim: 5 } },
      headers: { "if-match": '"2"' },
    });
    problem(before, 412, "version-mismatch");
    const again = await desire(named("lamp", "night"), { dim: 5 });
    assert.ok(again.doc.version > 2, `version ${again.doc.version}`);
    assert.deepEqual(again.doc.desired, { dim: 5 });
    assert.deepEqual(await names("lamp"), ["day", "night"]);
  });

  it("a name AWS would refuse is a 400 and changes nothing; an unregistered device is a 404", async () => {
    await createDevice("p1", "pump");
    for (const bad of ["a.b", "x".repeat(65), "a%20b", "%C3%A4", "a%2Fb"]) {
      const path = named("pump", bad);
      problem(await http("GET", path, { key: ADMIN }), 400, "bad-request");
      problem(
        await http("PATCH", path, { key: ADMIN, type: MERGE_PATCH, body: { desired: { x: 1 } } }),
        400,
        "bad-request",
      );
      problem(await http("DELETE", path, { key: ADMIN }), 400, "bad-request");
    }
    assert.deepEqual(await names("pump"), []);
    // The API checks the name before anything else: a bad name of a device that does not
    // exist is the same 400 (the shard would refuse it too, but only after the registry).
    problem(await http("GET", named("ghost", "a.b"), { key: ADMIN }), 400, "bad-request");
    // The longest name there may be is one.
    await desire(named("pump", "y".repeat(64)), { x: 1 });
    assert.deepEqual(await names("pump"), ["y".repeat(64)]);

    problem(
      await http("GET", `${dev("p1", "ghost")}/shadows`, { key: ADMIN }),
      404,
      "unknown-device",
    );
    problem(await http("GET", named("ghost", "arm"), { key: ADMIN }), 404, "unknown-device");
    problem(
      await http("PATCH", named("ghost", "arm"), {
        key: ADMIN,
        type: MERGE_PATCH,
        body: { desired: { x: 1 } },
      }),
      404,
      "unknown-device",
    );
  });

  it("a device has at most SHARD_MAX_NAMED_SHADOWS (10) named shadows: the 11th is a 400, until one is deleted", async () => {
    await createDevice("p1", "hub");
    const ten = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (const name of ten) await desire(named("hub", name), { n: 1 });
    const eleventh = await http("PATCH", named("hub", "s10"), {
      key: ADMIN,
      type: MERGE_PATCH,
      body: { desired: { n: 1 } },
    });
    assert.match(problem(eleventh, 400, "bad-request").detail, /10 named shadows/);
    problem(await http("GET", named("hub", "s10"), { key: ADMIN }), 404, "shadow-not-found");
    assert.deepEqual(await names("hub"), ten);
    // Writing one that exists is no new one; the classic shadow is not counted.
    await desire(named("hub", "s3"), { n: 2 });
    await desire(classic("hub"), { n: 1 });
    const gone = await http("DELETE", named("hub", "s0"), { key: ADMIN });
    assert.equal(gone.status, 204);
    await desire(named("hub", "s10"), { n: 1 });
    assert.deepEqual(await names("hub"), [...ten.slice(1), "s10"].sort());
  });

  it("another product's key: 403 alike whether or not the device or the shadow exists, nothing changed", async () => {
    await createDevice("p2", "secret");
    await desire(`${dev("p2", "secret")}/shadows/vault`, { locked: true });
    for (const dn of ["secret", "no-such-device"]) {
      const device = dev("p2", dn);
      const requests: [string, string, object][] = [
        ["GET", `${device}/shadows`, {}],
        ["GET", `${device}/shadows/vault`, {}],
        ["GET", `${device}/shadows/none`, {}],
        ["PATCH", `${device}/shadows/vault`, { type: MERGE_PATCH, body: { desired: { x: 1 } } }],
        ["DELETE", `${device}/shadows/vault`, {}],
      ];
      for (const [method, path, options] of requests)
        problem(await http(method, path, { key: P1_ONLY, ...options }), 403, "forbidden");
    }
    const vault = await http("GET", `${dev("p2", "secret")}/shadows/vault`, { key: ADMIN });
    assert.equal(vault.status, 200);
    assert.deepEqual((vault.body as Doc).desired, { locked: true });
    assert.equal(vault.headers.get("etag"), '"1"');
  });

  it("deleting a device deletes its named shadows: registered again, it has none", async () => {
    await createDevice("p1", "drone");
    await desire(named("drone", "camera"), { zoom: 2 });
    await desire(named("drone", "gimbal"), { tilt: 10 });
    const removed = await http("DELETE", dev("p1", "drone"), { key: ADMIN });
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    await createDevice("p1", "drone");
    assert.deepEqual(await names("drone"), []);
    problem(await http("GET", named("drone", "camera"), { key: ADMIN }), 404, "shadow-not-found");
  });

  it("event streams: a named shadow's change carries its name; ?shadow= keeps one shadow's, or the classic one's", async () => {
    await createDevice("p1", "fan");
    const all = await stream(`${dev("p1", "fan")}/events`);
    const speedOnly = await stream(`${dev("p1", "fan")}/events?shadow=speed`);
    const classicOnly = await stream("/v1/products/p1/events?shadow=");
    try {
      await desire(named("fan", "speed"), { rpm: 900 });
      await desire(classic("fan"), { on: true });
      await desire(named("fan", "speed"), { rpm: 1200 });

      const seen = [];
      for (let i = 0; i < 3; i++) seen.push(change(await all.next("change")));
      assert.deepEqual(
        seen.map((e) => [e.shadow, e.version]),
        [
          ["speed", 1],
          [undefined, 1],
          ["speed", 2],
        ],
      );
      const speed = [
        change(await speedOnly.next("change")),
        change(await speedOnly.next("change")),
      ];
      assert.deepEqual(
        speed.map((e) => [e.shadow, e.version]),
        [
          ["speed", 1],
          ["speed", 2],
        ],
      );
      const plain = change(await classicOnly.next("change"));
      assert.deepEqual([plain.device, plain.shadow, plain.version], ["fan", undefined, 1]);
      // Another classic write, then a named one: each filtered stream's next event is
      // its own, so the other passed it by (each stream reads the product's events in order).
      await desire(classic("fan"), { on: false });
      await desire(named("fan", "speed"), { rpm: 1500 });
      const next = change(await speedOnly.next("change"));
      assert.deepEqual([next.shadow, next.version], ["speed", 3]);
      const last = change(await classicOnly.next("change"));
      assert.deepEqual([last.shadow, last.version], [undefined, 2]);
    } finally {
      all.close();
      speedOnly.close();
      classicOnly.close();
    }
    problem(
      await http("GET", `${dev("p1", "fan")}/events?shadow=a.b`, { key: ADMIN }),
      400,
      "bad-request",
    );
  });

  it("the OpenAPI document has the named-shadow routes", async () => {
    const answer = await http("GET", "/openapi.json");
    const paths = (answer.body as { paths: Record<string, Record<string, unknown>> }).paths;
    assert.deepEqual(Object.keys(paths["/v1/products/{pid}/devices/{dn}/shadows"] ?? {}), ["get"]);
    assert.deepEqual(
      Object.keys(paths["/v1/products/{pid}/devices/{dn}/shadows/{shadowName}"] ?? {}).sort(),
      ["delete", "get", "patch"],
    );
  });
});

/**
 * The API refuses hostile bodies and names with a 400 problem and changes nothing (issue
 * 13, finding 8): a body nested past API_MAX_BODY_DEPTH on every route that takes JSON
 * (an 8,000-deep array was a 500), ill-formed UTF-8 (was stored as U+FFFD), and names a
 * URL path segment cannot carry back (`.` and `..` were created, then never addressable).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ApiCluster,
  type HttpAnswer,
  type httpClient,
  startApiCluster,
} from "../src/harness.js";

const KEY = "strict-input-admin-key-0123456789";
const PID = "strict";
const DEVICE = `/v1/products/${PID}/devices/d1`;
const DEPTH = 32;

let cluster: ApiCluster;
type Http = ReturnType<typeof httpClient>;
const http = (): Http => cluster.http[0] as Http;

const problem = (got: HttpAnswer, type: string, detail: RegExp): void => {
  assert.equal(got.status, 400, JSON.stringify(got.body));
  assert.equal(got.headers.get("content-type"), "application/problem+json");
  const body = got.body as { type: string; detail: string };
  assert.equal(body.type, `urn:umbra:problem:${type}`);
  assert.match(body.detail, detail);
};

/** `depth` arrays, one inside the next: `[[[ ]]]` is 3. */
const nested = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** The shadow as it is: a refused request must leave it so. */
const shadow = async (): Promise<unknown> => {
  const got = await http()("GET", `${DEVICE}/shadow`, { key: KEY });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.body;
};

before(async () => {
  cluster = await startApiCluster({ apiKeys: `${KEY}=*`, adminKey: KEY, products: [PID] });
  const made = await http()("POST", `/v1/products/${PID}/devices`, {
    key: KEY,
    body: { name: "d1" },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const written = await http()("PATCH", `${DEVICE}/shadow`, {
    key: KEY,
    body: { desired: { a: 1 } },
    type: "application/merge-patch+json",
  });
  assert.equal(written.status, 200, JSON.stringify(written.body));
});

after(async () => {
  await cluster?.stop();
});

describe("deeply nested bodies", () => {
  const tooDeep = new RegExp(`nests arrays and objects deeper than ${DEPTH} levels`);

  it("an 8,000-deep array in a merge patch is a 400, and the shadow is unchanged", async () => {
    const before = await shadow();
    const body = `{"desired":{"a":${nested(8_000)}}}`;
    assert.ok(body.length < 16_384, "within API_MAX_BODY_BYTES: it is the depth refused");
    problem(
      await http()("PATCH", `${DEVICE}/shadow`, {
        key: KEY,
        body,
        type: "application/merge-patch+json",
      }),
      "bad-json",
      tooDeep,
    );
    assert.deepEqual(await shadow(), before);
  });

  it("the limit counts every level of the body: at it the engine judges, past it the API refuses", async () => {
    const before = await shadow();
    // {"desired":{"a": …}} is two levels of objects around the arrays.
    const at = await http()("PATCH", `${DEVICE}/shadow`, {
      key: KEY,
      body: `{"desired":{"a":${nested(DEPTH - 2)}}}`,
      type: "application/merge-patch+json",
    });
    assert.equal(at.status, 400, JSON.stringify(at.body));
    assert.doesNotMatch((at.body as { detail: string }).detail, tooDeep);
    problem(
      await http()("PATCH", `${DEVICE}/shadow`, {
        key: KEY,
        body: `{"desired":{"a":${nested(DEPTH - 1)}}}`,
        type: "application/merge-patch+json",
      }),
      "bad-json",
      tooDeep,
    );
    // Brackets inside strings are text, not nesting.
    const text = await http()("PATCH", `${DEVICE}/shadow`, {
      key: KEY,
      body: JSON.stringify({ desired: { s: `\\"${nested(100)}` } }),
      type: "application/merge-patch+json",
    });
    assert.equal(text.status, 200, JSON.stringify(text.body));
    assert.equal(
      (text.body as { version: number }).version,
      (before as { version: number }).version + 1,
    );
  });

  it("a twin JSON Patch, function parameters and gateway parameters nested deep are 400s too", async () => {
    const before = await shadow();
    const deep = nested(8_000);
    const sub = `${DEVICE}/subdevices/${PID}/d2`;
    for (const [method, path, type, body] of [
      [
        "PATCH",
        `${DEVICE}/twin`,
        "application/json-patch+json",
        `[{"op":"add","path":"/p","value":${deep}}]`,
      ],
      ["POST", `${DEVICE}/functions`, "application/json", `{"funcKey":"f","params":{"x":${deep}}}`],
      ["POST", `${sub}/properties:set`, "application/json", `{"params":{"x":${deep}}}`],
      ["POST", `${sub}/services/s:invoke`, "application/json", `{"input":{"x":${deep}}}`],
      ["POST", `/v1/products/${PID}/devices`, "application/json", `{"name":${deep}}`],
    ] as const)
      problem(await http()(method, path, { key: KEY, body, type }), "bad-json", tooDeep);
    // A twin pointer thousands of levels deep is refused by the engine's twin rules.
    const pointer = `/p${"/a".repeat(5_000)}`;
    const twin = await http()("PATCH", `${DEVICE}/twin`, {
      key: KEY,
      body: [{ op: "add", path: pointer, value: 1 }],
      type: "application/json-patch+json",
    });
    assert.equal(twin.status, 400, JSON.stringify(twin.body));
    assert.deepEqual(await shadow(), before);
  });
});

describe("ill-formed UTF-8", () => {
  it("a body that is not UTF-8 is a 400, not U+FFFD stored", async () => {
    const before = await shadow();
    const bytes = Buffer.concat([
      Buffer.from('{"desired":{"name":"t'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}'),
    ]);
    const res = await fetch(`${cluster.apiUrls[0]}${DEVICE}/shadow`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/merge-patch+json" },
      body: bytes,
    });
    problem(
      { status: res.status, headers: res.headers, body: await res.json() },
      "bad-json",
      /not valid UTF-8/,
    );
    assert.deepEqual(await shadow(), before);
  });
});

describe("names a URL cannot address", () => {
  it("refuses '.', '..' and lone surrogates as device names and product ids", async () => {
    for (const name of [".", ".."]) {
      problem(
        await http()("POST", `/v1/products/${PID}/devices`, { key: KEY, body: { name } }),
        "bad-request",
        /^device name must not be '\.' or '\.\.' \(a URL cannot address it\)/,
      );
      problem(
        await http()("POST", "/v1/products", { key: KEY, body: { id: name } }),
        "bad-request",
        /^product id must not be '\.' or '\.\.' \(a URL cannot address it\)/,
      );
    }
    // JSON.stringify spells the lone surrogate as the escape \ud800.
    problem(
      await http()("POST", `/v1/products/${PID}/devices`, { key: KEY, body: { name: "\uD800x" } }),
      "bad-json",
      /lone UTF-16 surrogate/,
    );
    problem(
      await http()("POST", "/v1/products", { key: KEY, body: { id: "\uD800x" } }),
      "bad-json",
      /lone UTF-16 surrogate/,
    );
    const list = await http()("GET", `/v1/products/${PID}/devices`, { key: KEY });
    assert.deepEqual(list.body, { devices: ["d1"], next: null });
    const products = await http()("GET", "/v1/products", { key: KEY });
    assert.deepEqual(products.body, { products: [PID] });
    // Dots inside a name are fine and round-trip.
    const dotted = await http()("POST", `/v1/products/${PID}/devices`, {
      key: KEY,
      body: { name: "..." },
    });
    assert.equal(dotted.status, 201, JSON.stringify(dotted.body));
    const got = await http()("GET", `/v1/products/${PID}/devices/...`, { key: KEY });
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.equal(
      (await http()("DELETE", `/v1/products/${PID}/devices/...`, { key: KEY })).status,
      204,
    );
  });
});

describe("strings that are not Unicode text", () => {
  it("a lone surrogate anywhere in a body is a 400 and queues nothing (a function key was queued, then a 500)", async () => {
    const calls = async (): Promise<unknown> =>
      (await http()("GET", `${DEVICE}/functions`, { key: KEY })).body;
    const before = await calls();
    const shadowBefore = await shadow();
    problem(
      await http()("POST", `${DEVICE}/functions`, { key: KEY, body: { funcKey: "f\uD800" } }),
      "bad-json",
      /lone UTF-16 surrogate/,
    );
    problem(
      await http()("PATCH", `${DEVICE}/shadow`, {
        key: KEY,
        body: { desired: { ok: { "k\uDC00": 1 } } },
        type: "application/merge-patch+json",
      }),
      "bad-json",
      /lone UTF-16 surrogate/,
    );
    assert.deepEqual(await calls(), before);
    assert.deepEqual(await shadow(), shadowBefore);
    // A surrogate pair, escaped or not, is ordinary text.
    const paired = await http()("PATCH", `${DEVICE}/shadow`, {
      key: KEY,
      body: { desired: { smile: "\uD83D\uDE00" } },
      type: "application/merge-patch+json",
    });
    assert.equal(paired.status, 200, JSON.stringify(paired.body));
  });
});

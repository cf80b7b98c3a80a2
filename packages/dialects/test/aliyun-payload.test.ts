import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  aliyunErrorCode,
  applyUpdate,
  createShadow,
  type Result,
  type ShadowDocument,
  type ShadowError,
  type WriteResult,
} from "@umbra/core";
import {
  type AliyunRequest,
  readAliyunRequest,
  renderAliyunControl,
  renderAliyunErrorCode,
  renderAliyunGetReply,
  renderAliyunReply,
} from "../src/index.js";

const T = 1469564492000;

const read = (payload: string): AliyunRequest => {
  const r = readAliyunRequest(payload);
  assert.ok(r.ok, `read: ${JSON.stringify(r)}`);
  return r.value;
};

const code = (payload: string | Uint8Array): string => {
  const r = readAliyunRequest(payload);
  assert.ok(!r.ok, `refused: ${JSON.stringify(r)}`);
  return String(r.error.code);
};

/** Reads a payload and runs it through the engine, as the shard will. */
const apply = (doc: ShadowDocument, payload: string, now = T): Result<WriteResult, ShadowError> => {
  const request = read(payload);
  assert.notEqual(request.method, "get");
  if (request.method === "get") throw new Error("unreachable");
  return applyUpdate(doc, request.update, { now });
};

const written = (r: Result<WriteResult, ShadowError>): ShadowDocument => {
  assert.ok(r.ok, `written: ${JSON.stringify(r)}`);
  return r.value.doc;
};

const empty = () => createShadow("prod1", "dev3", T - 1000);

describe("Alibaba shadow payloads (DIALECTS.md §3.2) mapped onto the engine", () => {
  it("maps the SDK's postShadow to a device update with the strictly-newer version rule", () => {
    const post = '{"method":"update","state":{"reported":{"color":"red"}},"version":1796279699317}';
    const request = read(post);
    assert.deepEqual(request, {
      method: "update",
      update: {
        desired: undefined,
        reported: { color: "red" },
        source: "device",
        version: { kind: "newer", version: 1796279699317 },
      },
    });
    const doc = written(apply(empty(), post));
    assert.deepEqual(doc.reported, { color: "red" });
    assert.equal(doc.version, 1796279699317, "the shadow takes the requested version");
  });

  it("maps getShadow to a get, whatever else the payload carries", () => {
    assert.deepEqual(read('{"method":"get"}'), { method: "get" });
    assert.deepEqual(read('{"method":"get","version":"x"}'), { method: "get" });
  });

  it("deletes one reported property by the string \"null\" (deleteShadow(['color']))", () => {
    const start = written(
      apply(
        empty(),
        '{"method":"update","state":{"reported":{"color":"red","size":2}},"version":1}',
      ),
    );
    const doc = written(
      apply(start, '{"method":"delete","state":{"reported":{"color":"null"}},"version":2}'),
    );
    assert.deepEqual(doc.reported, { size: 2 });
  });

  it("deletes nested properties and all of reported (deleteShadow())", () => {
    const start = written(
      apply(
        empty(),
        '{"method":"update","state":{"reported":{"a":{"b":1,"c":2},"d":3}},"version":1}',
      ),
    );
    const nested = written(
      apply(start, '{"method":"delete","state":{"reported":{"a":{"b":"null"}}},"version":2}'),
    );
    assert.deepEqual(nested.reported, { a: { c: 2 }, d: 3 });
    const all = written(
      apply(nested, '{"method":"delete","state":{"reported":"null"},"version":3}'),
    );
    assert.deepEqual(all.reported, {});
  });

  it('clears desired with "desired":"null" in an update', () => {
    const start = written(
      apply(empty(), '{"method":"update","state":{"desired":{"color":"green"}},"version":2}'),
    );
    const doc = written(apply(start, '{"method":"update","state":{"desired":"null"},"version":3}'));
    assert.deepEqual(doc.desired, {});
  });

  it("replaces arrays whole", () => {
    const start = written(
      apply(empty(), '{"method":"update","state":{"reported":{"l":[1,2,3]}},"version":1}'),
    );
    const doc = written(
      apply(start, '{"method":"update","state":{"reported":{"l":[9]}},"version":2}'),
    );
    assert.deepEqual(doc.reported, { l: [9] });
  });

  it('answers a version not newer than the shadow\'s with errorcode "409"', () => {
    const start = written(
      apply(empty(), '{"method":"update","state":{"reported":{"a":1}},"version":5}'),
    );
    for (const stale of [0, 1, start.version]) {
      const r = apply(start, `{"method":"update","state":{"reported":{"a":2}},"version":${stale}}`);
      assert.ok(!r.ok);
      assert.equal(aliyunErrorCode(r.error), 409);
      assert.deepEqual(renderAliyunErrorCode(aliyunErrorCode(r.error), T), {
        method: "reply",
        payload: {
          status: "error",
          content: { errorcode: "409", errormessage: "version conflict" },
        },
        timestamp: 1469564492,
      });
    }
  });

  it("clears the shadow and resets the version to 0 with version -1", () => {
    const start = written(
      apply(empty(), '{"method":"update","state":{"reported":{"a":1}},"version":7}'),
    );
    const doc = written(
      apply(start, '{"method":"update","state":{"reported":{"b":2}},"version":-1}'),
    );
    assert.equal(doc.version, 0);
    assert.deepEqual(doc.reported, { b: 2 }, "the reset cleared reported.a first");
  });

  it("refuses malformed requests with the error table's codes, before the engine runs", () => {
    assert.equal(code(""), "407");
    assert.equal(code(new Uint8Array(0)), "407");
    assert.equal(code("{"), "400");
    assert.equal(code(new Uint8Array([0x7b, 0xff, 0x7d])), "400");
    assert.equal(code("[1]"), "400");
    assert.equal(code('"update"'), "400");
    assert.equal(code('{"state":{"reported":{"a":1}},"version":1}'), "401");
    assert.equal(code('{"method":"put","state":{"reported":{"a":1}}}'), "406");
    assert.equal(code('{"method":"reply"}'), "406");
    assert.equal(code('{"method":1}'), "406");
    assert.equal(code('{"method":"update","version":1}'), "402");
    assert.equal(code('{"method":"delete","version":1}'), "402");
    assert.equal(code('{"method":"update","state":[],"version":1}'), "400");
    assert.equal(code('{"method":"update","state":{"reported":{"a":1}},"version":"1"}'), "403");
    assert.equal(code('{"method":"update","state":{},"version":1}'), "404");
    assert.equal(code('{"method":"update","state":{"reported":{}},"version":1}'), "405");
    assert.equal(code('{"method":"update","state":{"other":{}},"version":1}'), "400");
    assert.equal(code('{"method":"update","state":{"reported":null},"version":1}'), "400");
    assert.equal(code('{"method":"update","state":{"reported":"red"},"version":1}'), "400");
    assert.equal(code('{"method":"delete","state":{"reported":{"a":1}},"version":1}'), "400");
    assert.equal(code('{"method":"delete","state":{"reported":{"a":null}},"version":1}'), "400");
  });

  it("refuses a non-integer version through the engine with 403", () => {
    const r = apply(empty(), '{"method":"update","state":{"reported":{"a":1}},"version":1.5}');
    assert.ok(!r.ok);
    assert.equal(aliyunErrorCode(r.error), 403);
  });

  it("refuses a payload over the size limit with 400 without parsing it", () => {
    const limits = { maxPayloadBytes: 10 } as Parameters<typeof readAliyunRequest>[1];
    assert.equal(readAliyunRequest('{"method":"get"}', limits).ok, false);
  });
});

describe("Alibaba shadow rendering (DIALECTS.md §3.3)", () => {
  const doc = written(
    applyUpdate(
      empty(),
      { desired: { color: "green" }, reported: { color: "red" }, source: "device" },
      { now: T },
    ),
  );

  it("renders the reply to an update or delete with the shadow's version, time in seconds", () => {
    assert.deepEqual(renderAliyunReply(doc.version, 1469564576000), {
      method: "reply",
      payload: { status: "success", version: doc.version },
      timestamp: 1469564576,
    });
  });

  it("renders the reply to get: document in payload, version at the top", () => {
    assert.deepEqual(renderAliyunGetReply(doc, 1469564576000), {
      method: "reply",
      payload: {
        status: "success",
        state: { reported: { color: "red" }, desired: { color: "green" } },
        metadata: {
          reported: { color: { timestamp: 1469564492 } },
          desired: { color: { timestamp: 1469564492 } },
        },
      },
      version: doc.version,
      timestamp: 1469564576,
    });
  });

  it("renders control in the same shape with method control", () => {
    const control = renderAliyunControl(doc, 1469564576000);
    assert.equal(control.method, "control");
    assert.deepEqual(control.payload, renderAliyunGetReply(doc, 1469564576000).payload);
    assert.deepEqual(renderAliyunControl(doc, 1469564576000), control);
  });

  it("renders every code of the table as a string errorcode", () => {
    for (const c of [400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 500] as const) {
      const r = renderAliyunErrorCode(c, T);
      assert.equal(r.payload.content.errorcode, String(c));
      assert.equal(typeof r.payload.content.errormessage, "string");
    }
  });
});

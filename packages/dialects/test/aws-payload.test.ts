import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyUpdate, awsError, createShadow, defaultLimits, type ShadowError } from "@umbra/core";
import { awsDialect, createAwsDialect, readAwsRequest } from "../src/index.js";

const text = (value: unknown) => JSON.stringify(value);

/** The code and message a refusal renders with, and the token it echoes. */
const refusal = (op: "update" | "get" | "delete", payload: string) => {
  const read = readAwsRequest(op, payload);
  assert.equal(read.ok, false, payload);
  if (read.ok) throw new Error("accepted");
  return { ...awsError(read.error.error as ShadowError), clientToken: read.error.clientToken };
};

const nest = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = levels; i > 0; i--) value = { [`k${i}`]: value };
  return value;
};

describe("AWS request payloads", () => {
  it("reads an update as an expected-version write from the device, ignoring other members", () => {
    const read = readAwsRequest(
      "update",
      text({
        thingName: "thing1",
        state: { desired: { color: "red" }, reported: null },
        clientToken: "tok-1",
        version: 7,
      }),
    );
    assert.deepEqual(read, {
      ok: true,
      value: {
        op: "update",
        clientToken: "tok-1",
        update: {
          desired: { color: "red" },
          reported: null,
          source: "device",
          version: { kind: "expected", version: 7 },
        },
      },
    });
  });

  it("an update's version must equal the shadow's: the engine answers 409 Version conflict otherwise", () => {
    const doc = { ...createShadow("prod1", "thing1", 0), version: 8 };
    const at = (version: number) => {
      const read = readAwsRequest("update", text({ state: { reported: { a: 1 } }, version }));
      assert.ok(read.ok && read.value.op === "update");
      return applyUpdate(doc, read.value.update, { now: 1 });
    };
    const same = at(8);
    assert.ok(same.ok);
    assert.equal(same.value.doc.version, 9);
    for (const stale of [7, 9]) {
      const conflict = at(stale);
      assert.ok(!conflict.ok);
      assert.deepEqual(awsError(conflict.error), { code: 409, message: "Version conflict" });
    }
  });

  it("checks no version when the update names none", () => {
    const read = readAwsRequest("update", text({ state: { reported: { a: null } } }));
    assert.ok(read.ok && read.value.op === "update");
    assert.equal(read.value.update.version, undefined);
    assert.deepEqual(read.value.update.reported, { a: null });
    assert.equal(read.value.clientToken, undefined);
  });

  it("ignores version in get and delete, keeps their token, and takes an empty payload", () => {
    for (const op of ["get", "delete"] as const) {
      assert.deepEqual(readAwsRequest(op, text({ version: 1, clientToken: "thing1-1" })), {
        ok: true,
        value: { op, clientToken: "thing1-1" },
      });
      assert.deepEqual(readAwsRequest(op, text({ version: "x" })), {
        ok: true,
        value: { op, clientToken: undefined },
      });
      assert.deepEqual(readAwsRequest(op, ""), { ok: true, value: { op, clientToken: undefined } });
    }
  });

  it("keeps a clientToken of 64 bytes and refuses 65 (400 Invalid clientToken, not echoed)", () => {
    const at = "é".repeat(32); // 64 bytes in UTF-8, 32 characters
    const read = readAwsRequest("update", text({ state: { reported: {} }, clientToken: at }));
    assert.ok(read.ok);
    assert.equal(read.value.clientToken, at);
    for (const op of ["update", "get", "delete"] as const) {
      assert.deepEqual(refusal(op, text({ state: { reported: {} }, clientToken: `${at}x` })), {
        code: 400,
        message: "Invalid clientToken",
        clientToken: undefined,
      });
      assert.equal(refusal(op, text({ clientToken: 5 })).message, "Invalid clientToken");
    }
  });

  it("refuses with the error table's codes and messages, echoing the token read before", () => {
    const t = { clientToken: "tok-3" };
    const cases: [string, number, string, string | undefined][] = [
      ["{", 400, "Invalid JSON", undefined],
      ["", 400, "Invalid JSON", undefined],
      ["[1]", 400, "Invalid JSON", undefined],
      [text(t), 400, "Missing required node: state", "tok-3"],
      [text({ ...t, state: 1 }), 400, "State node must be an object", "tok-3"],
      [text({ ...t, state: { desired: 1 } }), 400, "Desired node must be an object", "tok-3"],
      [text({ ...t, state: { reported: [] } }), 400, "Reported node must be an object", "tok-3"],
      [text({ ...t, state: { delta: {} } }), 400, "State contains an invalid node", "tok-3"],
      [text({ ...t, state: { reported: {} }, version: "7" }), 400, "Invalid version", "tok-3"],
      [
        text({ ...t, state: { reported: nest(7) } }),
        400,
        "JSON contains too many levels of nesting; maximum is 6",
        "tok-3",
      ],
    ];
    for (const [payload, code, message, clientToken] of cases)
      assert.deepEqual(refusal("update", payload), { code, message, clientToken }, payload);
    assert.deepEqual(refusal("get", "{"), {
      code: 400,
      message: "Invalid JSON",
      clientToken: undefined,
    });
    const bad = new Uint8Array([0x7b, 0xff, 0x7d]);
    const read = readAwsRequest("update", bad);
    assert.ok(!read.ok);
    assert.deepEqual(awsError(read.error.error), {
      code: 415,
      message: "Unsupported documented encoding; supported encoding is UTF-8",
    });
  });

  it("takes 6 levels of nesting in either section and refuses 7", () => {
    assert.ok(
      readAwsRequest("update", text({ state: { desired: nest(6), reported: nest(6) } })).ok,
    );
    assert.equal(
      refusal("update", text({ state: { desired: nest(7) } })).message,
      "JSON contains too many levels of nesting; maximum is 6",
    );
    assert.equal(
      refusal("update", text({ state: { reported: { a: [[[[[[1]]]]]] } } })).code,
      400,
      "arrays count as levels",
    );
  });

  it("takes 8 KB of state and refuses a byte more with 413", () => {
    const state = (bytes: number) => {
      const shell = text({ a: "" }).length;
      return { desired: { a: "x".repeat(bytes - shell) } };
    };
    assert.equal(text(state(8192).desired).length, 8192);
    assert.ok(readAwsRequest("update", text({ state: state(8192) })).ok);
    assert.deepEqual(refusal("update", text({ clientToken: "t", state: state(8193) })), {
      code: 413,
      message: "The payload exceeds the maximum size allowed",
      clientToken: "t",
    });
    // The bound is configurable, and a payload past the engine's limit is 413 too.
    const small = createAwsDialect({ maxStateBytes: 100, maxDepth: 6 });
    const read = small.readCommand(
      "update",
      Buffer.from(text({ state: state(101) })),
      defaultLimits,
    );
    assert.ok(!read.ok);
    assert.equal(awsError(read.error.error).code, 413);
    const huge = readAwsRequest("update", text({ state: { reported: { a: "x".repeat(20_000) } } }));
    assert.ok(!huge.ok);
    assert.equal(awsError(huge.error.error).code, 413);
  });

  it("echoes the token of JSON the engine's reader refuses (past its size or depth), not of what is no JSON", () => {
    const huge = text({ clientToken: "big", state: { reported: { a: "x".repeat(20_000) } } });
    assert.deepEqual(refusal("update", huge), {
      code: 413,
      message: "The payload exceeds the maximum size allowed",
      clientToken: "big",
    });
    assert.equal(refusal("get", huge).clientToken, "big", "a get too");
    const bytes = readAwsRequest("update", Buffer.from(huge));
    assert.ok(!bytes.ok);
    assert.equal(bytes.error.clientToken, "big", "read from bytes as from text");
    const deep = text({ clientToken: "deep", state: { reported: nest(200) } });
    assert.equal(refusal("update", deep).clientToken, "deep");
    // Not JSON, not UTF-8, or a token AWS would refuse: nothing to echo.
    assert.equal(refusal("update", '{"clientToken":"t","state":').clientToken, undefined);
    const latin1 = Buffer.from('{"clientToken":"t","state":{"reported":{"a":"\xff"}}}', "latin1");
    const notUtf8 = readAwsRequest("update", latin1);
    assert.ok(!notUtf8.ok);
    assert.equal(notUtf8.error.clientToken, undefined);
    const longToken = text({ clientToken: "t".repeat(65), state: { reported: nest(200) } });
    assert.equal(refusal("update", longToken).clientToken, undefined);
  });

  it("hands the shard update, get and delete commands with their token", () => {
    const payload = Buffer.from(text({ state: { reported: { a: 1 } }, clientToken: "c" }));
    assert.deepEqual(awsDialect.readCommand("update", payload, defaultLimits), {
      ok: true,
      value: {
        op: "update",
        update: { desired: undefined, reported: { a: 1 }, source: "device" },
        clientToken: "c",
      },
    });
    assert.deepEqual(
      awsDialect.readCommand("get", Buffer.from(text({ clientToken: "g" })), defaultLimits),
      {
        ok: true,
        value: { op: "get", clientToken: "g" },
      },
    );
    assert.deepEqual(
      awsDialect.readCommand(
        "delete",
        Buffer.from(text({ version: 3, clientToken: "d" })),
        defaultLimits,
      ),
      { ok: true, value: { op: "delete", clientToken: "d" } },
      "a delete names no version: v1's is ignored",
    );
    assert.equal(awsDialect.readCommand("request", payload, defaultLimits).ok, false);
    assert.equal(awsDialect.recognise("thing1", "prod1?SDK=IoTDeviceSDK/JS"), undefined);
  });
});

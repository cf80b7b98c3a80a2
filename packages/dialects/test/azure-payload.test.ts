import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyTwinPatch,
  applyTwinReported,
  applyUpdate,
  createShadow,
  defaultLimits,
  renderTwin,
  type ShadowError,
} from "@umbra/core";
import {
  type AzureAck,
  ackMetadataOf,
  azureErrorAnswer,
  defaultAzureLimits,
  readAzureMethodResponse,
  readAzureReportedPatch,
  twinAckOf,
} from "../src/index.js";

const text = (value: unknown) => JSON.stringify(value);

const refusal = (payload: string) => {
  const read = readAzureReportedPatch(payload);
  assert.equal(read.ok, false, payload);
  if (read.ok) throw new Error("accepted");
  return read.error.error as ShadowError;
};

const nest = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = levels; i > 0; i--) value = { [`k${i}`]: value };
  return value;
};

describe("Azure reported patches", () => {
  it("reads a JSON merge patch into a device write on reported, null deleting", () => {
    const read = readAzureReportedPatch(text({ color: "red", route: null, nested: { a: 1 } }));
    assert.deepEqual(read, {
      ok: true,
      value: {
        patch: { color: "red", route: null, nested: { a: 1 } },
        update: {
          desired: undefined,
          reported: { color: "red", route: null, nested: { a: 1 } },
          source: "device",
        },
        acks: [],
        components: [],
      },
    });
    // The engine deletes what the patch sets to null.
    const before = applyUpdate(
      createShadow("p", "d", 1),
      { reported: { route: "a", keep: 1 }, source: "device" },
      { now: 1 },
    );
    assert.ok(before.ok && read.ok);
    const after = applyUpdate(before.value.doc, read.value.update, { now: 2 });
    assert.ok(after.ok);
    assert.deepEqual(after.value.doc.reported, { keep: 1, color: "red", nested: { a: 1 } });
  });

  it("refuses what is no JSON object with 400 ArgumentInvalid", () => {
    for (const payload of ["", " ", "{", "null", "[]", "3", '"x"']) {
      const error = refusal(payload);
      assert.deepEqual(
        { status: azureErrorAnswer(error).status, code: azureErrorAnswer(error).errorCode },
        { status: 400, code: 400004 },
        payload,
      );
    }
    const bad = readAzureReportedPatch(new Uint8Array([0x7b, 0xff, 0x7d]));
    assert.equal(bad.ok, false);
  });

  it("refuses member names IoT Hub refuses, at any depth, naming the member", () => {
    for (const key of ["a.b", "$version", "a b", "tab\t", "ctl\u0001", ""]) {
      const error = refusal(text({ ok: { [key]: 1 } }));
      assert.equal(error._tag, "InvalidParameter", key);
      assert.equal(error._tag === "InvalidParameter" && error.path.startsWith("/ok/"), true, key);
      assert.equal(azureErrorAnswer(error).status, 400);
    }
    // Names at the bound pass, one byte more is refused (bytes, not characters).
    const fits = "é".repeat(defaultAzureLimits.maxKeyBytes / 2);
    assert.equal(readAzureReportedPatch(text({ [fits]: 1 })).ok, true);
    assert.equal(refusal(text({ [`${fits}x`]: 1 }))._tag, "InvalidParameter");
    // `__t` and ordinary punctuation are allowed.
    assert.equal(readAzureReportedPatch(text({ "__t-x_y:z": 1 })).ok, true);
  });

  it("allows ten levels of nesting and refuses eleven", () => {
    assert.equal(readAzureReportedPatch(text(nest(defaultAzureLimits.maxDepth))).ok, true);
    const error = refusal(text(nest(defaultAzureLimits.maxDepth + 1)));
    assert.equal(error._tag, "DepthExceeded");
    assert.equal(azureErrorAnswer(error).status, 400);
    // Arrays are a level too.
    assert.equal(refusal(text({ a: [[[[[[[[[[1]]]]]]]]]] }))._tag, "DepthExceeded");
    assert.equal(readAzureReportedPatch(text({ a: [[[[[[[[[1]]]]]]]]] })).ok, true);
  });

  it("allows a patch of 32 KB and refuses one byte more, counting JSON not whitespace", () => {
    const limits = { ...defaultLimits, maxPayloadBytes: 256 * 1024 };
    const sized = (bytes: number) => text({ a: "x".repeat(bytes - 8) }); // {"a":"…"} = 8 + n
    assert.equal(sized(32 * 1024).length, 32 * 1024);
    assert.equal(readAzureReportedPatch(sized(32 * 1024), limits).ok, true);
    const over = readAzureReportedPatch(sized(32 * 1024 + 1), limits);
    assert.equal(over.ok === false && over.error.error._tag, "DocumentTooLarge");
    // Whitespace around a patch within the bound does not count against it.
    const padded = `${sized(32 * 1024)}${" ".repeat(100)}`;
    assert.equal(readAzureReportedPatch(padded, limits).ok, true);
    // The engine's payload bound comes first.
    const big = readAzureReportedPatch(sized(20 * 1024));
    assert.equal(big.ok === false && big.error.error._tag, "PayloadTooLarge");
  });

  it("recognises writable-property acks at the root and in components, unwrapping them", () => {
    const patch = {
      targetTemperature: { value: 21.3, ac: 200, av: 3, ad: "complete" },
      thermostat1: {
        __t: "c",
        targetTemperature: { value: 20.4, ac: 200, av: 4, ad: "Successfully executed patch" },
        maxTempSinceLastReboot: 25.3,
      },
      notAck: { value: 1, ac: "200" },
      extra: { value: 1, ac: 200, other: 1 },
      notComponent: { __t: "x", p: { value: 1, ac: 200 } },
    };
    const read = readAzureReportedPatch(text(patch));
    assert.ok(read.ok);
    assert.deepEqual(read.value.acks, [
      {
        pointer: "/targetTemperature",
        code: 200,
        version: 3,
        description: "complete",
      },
      {
        pointer: "/thermostat1/targetTemperature",
        code: 200,
        version: 4,
        description: "Successfully executed patch",
      },
    ]);
    assert.deepEqual(read.value.components, ["thermostat1"]);
    assert.deepEqual(read.value.patch, patch);
    assert.deepEqual(read.value.update.reported, {
      targetTemperature: 21.3,
      thermostat1: { __t: "c", targetTemperature: 20.4, maxTempSinceLastReboot: 25.3 },
      notAck: { value: 1, ac: "200" },
      extra: { value: 1, ac: 200, other: 1 },
      notComponent: { __t: "x", p: { value: 1, ac: 200 } },
    });
    // A device-set value: ac 203, av 0, no description.
    const own = readAzureReportedPatch(text({ p: { value: 5, ac: 203, av: 0 } }));
    assert.ok(own.ok);
    assert.deepEqual(own.value.acks, [
      { pointer: "/p", code: 203, version: 0, description: undefined },
    ]);
  });

  it("agrees with the engine on what an ack is: the patch lands in $metadata as seed 004 shows", () => {
    const patch = {
      thermostat1: {
        __t: "c",
        targetTemperature: { value: 20.4, ac: 200, av: 4, ad: "Successfully executed patch" },
      },
    };
    const read = readAzureReportedPatch(text(patch));
    assert.ok(read.ok);
    const now = Date.UTC(2020, 6, 17, 6, 11, 4, 930);
    // The cloud set the writable property first (seed 004 shows acks beside desiredValue).
    const set = applyTwinPatch(
      createShadow("p", "sample-device", 0),
      [{ op: "add", path: "/thermostat1", value: { targetTemperature: 20.4, $metadata: {} } }],
      { now: now - 1000 },
    );
    assert.ok(set.ok);
    const write = applyTwinReported(set.value.doc, read.value.patch, { now });
    assert.ok(write.ok);
    const stored = write.value.doc.metadata.twin?.acks?.["/thermostat1/targetTemperature"];
    assert.ok(stored !== undefined);
    // The dialect's own mapping gives what the engine stored.
    assert.deepEqual(twinAckOf(read.value.acks[0] as AzureAck, now, 99), stored);
    const twin = renderTwin(write.value.doc) as {
      thermostat1: { $metadata: { targetTemperature: Record<string, unknown> } };
    };
    const meta = twin.thermostat1.$metadata.targetTemperature;
    assert.deepEqual(
      { ackCode: meta.ackCode, ackVersion: meta.ackVersion, ackDescription: meta.ackDescription },
      ackMetadataOf(stored),
    );
    assert.deepEqual(ackMetadataOf(stored), {
      ackCode: 200,
      ackVersion: 4,
      ackDescription: "Successfully executed patch",
    });
    // And the reported value is the unwrapped one, as the dialect's update has it.
    assert.deepEqual(write.value.doc.reported, read.value.update.reported);
  });

  it("maps an ack without av or ad onto the desired version and no description", () => {
    const ack = { pointer: "/p", code: 202, version: undefined, description: undefined };
    assert.deepEqual(twinAckOf(ack, 5, 12), { code: 202, version: 12, timestamp: 5 });
    assert.deepEqual(ackMetadataOf(twinAckOf(ack, 5, 12)), { ackCode: 202, ackVersion: 12 });
    assert.deepEqual(twinAckOf({ ...ack, version: 7 }, 5, 12), {
      code: 202,
      version: 7,
      timestamp: 5,
    });
    assert.deepEqual(twinAckOf({ ...ack, version: 0, description: "" }, 5, 12), {
      code: 202,
      version: 0,
      description: "",
      timestamp: 5,
    });
  });

  it("keeps __proto__ a member of the patch, never the prototype", () => {
    const read = readAzureReportedPatch('{"__proto__":{"value":1,"ac":200,"av":1},"a":1}');
    assert.ok(read.ok);
    assert.equal(Object.getPrototypeOf(read.value.update.reported), Object.prototype);
    assert.deepEqual(Object.keys(read.value.update.reported ?? {}), ["__proto__", "a"]);
  });
});

describe("Azure method results", () => {
  it("completes below 300 and fails from 300, the body as the result", () => {
    assert.deepEqual(readAzureMethodResponse(200, '{"ok":true}'), {
      ok: true,
      value: { outcome: "completed", status: 200, result: { ok: true } },
    });
    assert.deepEqual(readAzureMethodResponse(299, "null"), {
      ok: true,
      value: { outcome: "completed", status: 299, result: null },
    });
    assert.deepEqual(readAzureMethodResponse(300, '"moved"'), {
      ok: true,
      value: { outcome: "failed", status: 300, result: "moved" },
    });
    assert.deepEqual(readAzureMethodResponse(500, ""), {
      ok: true,
      value: { outcome: "failed", status: 500, result: null },
    });
  });

  it("refuses a body that is no JSON or too large", () => {
    assert.equal(readAzureMethodResponse(200, "{").ok, false);
    const big = readAzureMethodResponse(200, text("x".repeat(defaultLimits.maxPayloadBytes)));
    assert.equal(big.ok === false && big.error._tag, "PayloadTooLarge");
  });
});

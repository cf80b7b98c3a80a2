import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  createShadow,
  defaultLimits,
  describeError,
  ONENET_ERROR_MESSAGES,
  parseUpdatePayload,
  renderOneNetDelta,
  renderOneNetGetAccepted,
  renderOneNetRejected,
  renderOneNetUpdateAccepted,
  type ShadowDocument,
  type ShadowError,
} from "../src/index.js";
import { onenetDelta, onenetUpdatePayload } from "./fixtures/seeds.js";
import { deepFreeze, failure, unwrap } from "./helpers.js";

const T = 1469574492000;
const fresh = () => deepFreeze(createShadow("pid1", "dev1", T - 60_000));

/** What a device's publish on $sys/{pid}/{dn}/image/update does to a shadow. */
const publishUpdate = (doc: ShadowDocument, payload: string, now = T) => {
  const patch = parseUpdatePayload(payload);
  if (!patch.ok) return patch;
  return applyUpdate(doc, { ...patch.value, source: "device" }, { now });
};

const rejectedFor = (doc: ShadowDocument, payload: string) =>
  renderOneNetRejected(failure(publishUpdate(doc, payload)));

describe("OneNET device image (seed 000)", () => {
  it("accepts the seed's update payload and answers with the applied state, metadata and version", () => {
    const write = unwrap(publishUpdate(fresh(), JSON.stringify(onenetUpdatePayload)));
    assert.deepEqual(renderOneNetUpdateAccepted(write), {
      state: { desired: { color: "green" }, reported: { color: "red" } },
      metadata: {
        desired: { color: { timestamp: 1469574492 } },
        reported: { color: { timestamp: 1469574492 } },
      },
      version: 1,
      timestamp: 1469574492,
    });
  });

  it("sends the delta exactly as the seed shows it when desired and reported differ", () => {
    const reported = unwrap(
      publishUpdate(fresh(), '{"state":{"reported":{"color":"red"}}}', T - 1000),
    );
    const write = unwrap(publishUpdate(reported.doc, JSON.stringify(onenetUpdatePayload)));
    assert.deepEqual(write.delta, { color: "green" });
    assert.deepEqual(renderOneNetDelta(write.doc, write.timestamp, write.delta), onenetDelta);
  });

  it("sends no delta once reported catches up with desired", () => {
    const first = unwrap(publishUpdate(fresh(), JSON.stringify(onenetUpdatePayload)));
    const caughtUp = unwrap(
      publishUpdate(first.doc, '{"state":{"reported":{"color":"green"}}}', T + 1000),
    );
    assert.equal(caughtUp.delta, undefined);
    assert.equal(renderOneNetDelta(caughtUp.doc, caughtUp.timestamp), undefined);
  });

  it("answers get with the whole image: desired, reported, metadata, version, timestamp", () => {
    const write = unwrap(publishUpdate(fresh(), JSON.stringify(onenetUpdatePayload)));
    assert.deepEqual(renderOneNetGetAccepted(write.doc, T + 5000), {
      state: { desired: { color: "green" }, reported: { color: "red" } },
      metadata: {
        desired: { color: { timestamp: 1469574492 } },
        reported: { color: { timestamp: 1469574492 } },
      },
      version: 1,
      timestamp: 1469574497,
    });
  });

  it("has the seed's error table, code for code and message for message", () => {
    assert.deepEqual(ONENET_ERROR_MESSAGES, {
      128: "unspecified error",
      160: "illegal json",
      161: "json out of bound",
      162: "json depth out of bound",
      163: "state key not found",
      164: "desired or reported key not found",
      165: "invalid parameters",
      166: "device image existed",
      167: "device image not exists",
    });
  });

  it("rejects illegal JSON with 160", () => {
    assert.deepEqual(rejectedFor(fresh(), '{"state":{"desired":'), {
      err_code: 160,
      err_msg: "illegal json",
    });
    assert.equal(rejectedFor(fresh(), "").err_code, 160);
    assert.equal(rejectedFor(fresh(), "[1,2]").err_code, 160);
  });

  it("rejects invalid UTF-8 with 160", () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]);
    const patch = parseUpdatePayload(bytes);
    assert.equal(renderOneNetRejected(failure(patch)).err_code, 160);
  });

  it("rejects a payload over the size limit with 161, before parsing it", () => {
    const big = JSON.stringify({
      state: { reported: { blob: "x".repeat(defaultLimits.maxPayloadBytes) } },
    });
    assert.deepEqual(rejectedFor(fresh(), big), { err_code: 161, err_msg: "json out of bound" });
    // Not even valid JSON: the size is judged first.
    assert.equal(
      rejectedFor(fresh(), `{${" ".repeat(defaultLimits.maxPayloadBytes)}`).err_code,
      161,
    );
  });

  it("rejects a write that would grow the shadow past the document limit with 161", () => {
    let doc = fresh();
    const chunk = "y".repeat(4000);
    let error: ShadowError | undefined;
    for (let i = 0; i < 10 && error === undefined; i++) {
      const result = publishUpdate(
        doc,
        JSON.stringify({ state: { reported: { [`k${i}`]: chunk } } }),
      );
      if (result.ok) doc = deepFreeze(result.value.doc);
      else error = result.error;
    }
    assert.ok(error, "the shadow never hit the limit");
    assert.equal(error._tag, "DocumentTooLarge");
    assert.equal(renderOneNetRejected(error).err_code, 161);
  });

  it("rejects nesting deeper than the limit with 162", () => {
    let value: unknown = 1;
    for (let i = 0; i < defaultLimits.maxDepth + 1; i++) value = { n: value };
    const payload = JSON.stringify({ state: { reported: value } });
    assert.deepEqual(rejectedFor(fresh(), payload), {
      err_code: 162,
      err_msg: "json depth out of bound",
    });
    let ok: unknown = 1;
    for (let i = 0; i < defaultLimits.maxDepth; i++) ok = { n: ok };
    unwrap(publishUpdate(fresh(), JSON.stringify({ state: { reported: ok } })));
  });

  it("rejects a payload without state with 163", () => {
    assert.deepEqual(rejectedFor(fresh(), '{"desired":{"color":"red"}}'), {
      err_code: 163,
      err_msg: "state key not found",
    });
  });

  it("rejects a state with neither desired nor reported with 164", () => {
    assert.deepEqual(rejectedFor(fresh(), '{"state":{}}'), {
      err_code: 164,
      err_msg: "desired or reported key not found",
    });
  });

  it("answers 164 for a state with neither desired nor reported, whatever else it holds", () => {
    for (const payload of [
      '{"state":{"color":"x"}}',
      '{"state":{"delta":{},"color":"x"}}',
      '{"state":{"desired ":{"a":1}}}',
    ])
      assert.deepEqual(
        rejectedFor(fresh(), payload),
        { err_code: 164, err_msg: "desired or reported key not found" },
        payload,
      );
    // With a section there, the unknown node is what is wrong: 165, wherever it stands.
    for (const payload of [
      '{"state":{"color":"x","reported":{"a":1}}}',
      '{"state":{"desired":{"a":1},"color":"x"}}',
      '{"state":{"color":"x","reported":5}}',
    ])
      assert.equal(rejectedFor(fresh(), payload).err_code, 165, payload);
  });

  it("rejects invalid parameters with 165", () => {
    for (const payload of [
      '{"state":{"reported":5}}',
      '{"state":{"reported":{"$bad":1}}}',
      '{"state":{"reported":{"":1}}}',
      '{"state":{"reported":{"__proto__":{"x":1}}}}',
      '{"state":{"reported":{"a":1},"delta":{}}}',
      '{"state":{"desired":{"_function":{"funcKey":"x"}}}}',
    ])
      assert.deepEqual(
        rejectedFor(fresh(), payload),
        {
          err_code: 165,
          err_msg: "invalid parameters",
        },
        payload,
      );
  });

  it("maps every engine error to a code of the seed's table", () => {
    const errors: ShadowError[] = [
      { _tag: "ShadowExists" },
      { _tag: "ShadowNotFound" },
      { _tag: "Unspecified", detail: "boom" },
    ];
    assert.deepEqual(
      errors.map((e) => renderOneNetRejected(e).err_code),
      [166, 167, 128],
    );
    for (const e of errors) assert.ok(describeError(e).length > 0);
  });
});

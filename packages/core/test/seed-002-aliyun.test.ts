import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALIYUN_ERROR_MESSAGES,
  aliyunErrorCode,
  applyUpdate,
  createShadow,
  renderAliyunControl,
  renderAliyunDocument,
  renderAliyunError,
  renderAliyunReply,
  type ShadowDocument,
} from "../src/index.js";
import {
  aliyunArrayFinal,
  aliyunArrayInitial,
  aliyunArrayUpdate,
  aliyunDocument,
} from "./fixtures/seeds.js";
import { deepFreeze, failure, unwrap } from "./helpers.js";

const T = 1469564492000;

const newer = (doc: ShadowDocument, version: number, reported: Record<string, string>) =>
  applyUpdate(doc, { reported, source: "device", version: { kind: "newer", version } }, { now: T });

describe("Alibaba Cloud shadow (seed 002)", () => {
  it("renders the seed's shadow document exactly, metadata in seconds", () => {
    const write = unwrap(
      applyUpdate(
        createShadow("pk", "dn", T - 5000),
        {
          desired: aliyunDocument.state.desired,
          reported: aliyunDocument.state.reported,
          source: "device",
        },
        { now: T },
      ),
    );
    assert.deepEqual(renderAliyunDocument(write.doc), aliyunDocument);
  });

  it("leaves out desired when none was set; the document stays valid", () => {
    const write = unwrap(
      applyUpdate(
        createShadow("pk", "dn", 0),
        { reported: { color: "GREEN" }, source: "device" },
        { now: T },
      ),
    );
    const rendered = renderAliyunDocument(write.doc);
    assert.deepEqual(rendered.state, { reported: { color: "GREEN" } });
    assert.deepEqual(rendered.metadata, { reported: { color: { timestamp: 1469564492 } } });
  });

  it("replaces arrays whole, as the seed's example shows", () => {
    const initial = unwrap(
      applyUpdate(
        createShadow("pk", "dn", 0),
        { ...aliyunArrayInitial, source: "device" },
        { now: T },
      ),
    );
    const updated = unwrap(
      applyUpdate(
        deepFreeze(initial.doc),
        { ...aliyunArrayUpdate, source: "device" },
        { now: T + 1 },
      ),
    );
    assert.deepEqual({ reported: updated.doc.reported }, aliyunArrayFinal);
  });

  it("accepts a version newer than the shadow's and rejects one that is not", () => {
    const doc = deepFreeze({ ...createShadow("pk", "dn", 0), version: 5 });
    assert.equal(unwrap(newer(doc, 6, { a: "x" })).doc.version, 6);
    assert.equal(unwrap(newer(doc, 100, { a: "x" })).doc.version, 6);
    for (const stale of [5, 4, 0]) {
      const error = failure(newer(doc, stale, { a: "x" }));
      assert.deepEqual(error, { _tag: "VersionNotNewer", requested: stale, current: 5 });
      assert.equal(aliyunErrorCode(error), 409);
    }
  });

  it("resets the version to 0 when a request carries -1", () => {
    const doc = deepFreeze({ ...createShadow("pk", "dn", 0), version: 41 });
    const reset = unwrap(newer(doc, -1, { a: "x" }));
    assert.equal(reset.doc.version, 0);
    assert.equal(reset.doc.reported.a, "x");
    assert.equal(unwrap(newer(reset.doc, 1, { a: "y" })).doc.version, 1);
  });

  it("refuses a version that is not an integer with 403", () => {
    const doc = createShadow("pk", "dn", 0);
    for (const bad of [1.5, Number.NaN, -2])
      assert.equal(aliyunErrorCode(failure(newer(doc, bad, { a: "x" }))), 403);
  });

  it("maps engine errors to Alibaba's codes", () => {
    assert.equal(aliyunErrorCode({ _tag: "InvalidJson", detail: "" }), 400);
    assert.equal(aliyunErrorCode({ _tag: "StateMissing" }), 402);
    assert.equal(aliyunErrorCode({ _tag: "DesiredReportedMissing" }), 404);
    assert.equal(aliyunErrorCode({ _tag: "ShadowNotFound" }), 407);
    assert.equal(aliyunErrorCode({ _tag: "TooManyProperties", count: 129, limit: 128 }), 408);
    assert.equal(aliyunErrorCode({ _tag: "Unspecified", detail: "" }), 500);
    for (const code of [400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 500] as const)
      assert.ok(ALIYUN_ERROR_MESSAGES[code]);
  });

  it("renders reply, error and control messages", () => {
    assert.deepEqual(renderAliyunReply(7, T), {
      method: "reply",
      payload: { status: "success", version: 7 },
      timestamp: 1469564492,
    });
    assert.deepEqual(renderAliyunError({ _tag: "StateMissing" }, T), {
      method: "reply",
      payload: { status: "error", content: { errorcode: "402", errormessage: "state is missing" } },
      timestamp: 1469564492,
    });
    const write = unwrap(
      applyUpdate(
        createShadow("pk", "dn", 0),
        { desired: { color: "RED" }, source: "cloud" },
        { now: T },
      ),
    );
    assert.deepEqual(renderAliyunControl(write.doc, T), {
      method: "control",
      payload: {
        status: "success",
        state: { desired: { color: "RED" } },
        metadata: { desired: { color: { timestamp: 1469564492 } } },
      },
      version: 1,
      timestamp: 1469564492,
    });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  awsError,
  createShadow,
  renderAwsDeleteAccepted,
  renderAwsDelta,
  renderAwsDocuments,
  renderAwsError,
  renderAwsGetAccepted,
  renderAwsUpdateAccepted,
  type ShadowError,
} from "../src/index.js";
import { unwrap } from "./helpers.js";

const T = 1_700_000_000_000;
const S = 1_700_000_000;

const first = unwrap(
  applyUpdate(
    createShadow("p", "thing", 0),
    { reported: { color: "red" }, source: "device" },
    { now: T },
  ),
);
const second = unwrap(
  applyUpdate(
    first.doc,
    { desired: { color: "green", gone: null }, source: "cloud" },
    { now: T + 1000 },
  ),
);

describe("AWS IoT shadow views", () => {
  it("get/accepted carries desired, reported, the delta, metadata in seconds and the client token", () => {
    assert.deepEqual(renderAwsGetAccepted(second.doc, T + 2000, { clientToken: "abc" }), {
      state: { desired: { color: "green" }, reported: { color: "red" }, delta: { color: "green" } },
      metadata: {
        desired: { color: { timestamp: S + 1 } },
        reported: { color: { timestamp: S } },
      },
      version: 2,
      timestamp: S + 2,
      clientToken: "abc",
    });
  });

  it("update/accepted echoes the request's state, nulls included", () => {
    assert.deepEqual(renderAwsUpdateAccepted(second), {
      state: { desired: { color: "green", gone: null } },
      metadata: { desired: { color: { timestamp: S + 1 }, gone: { timestamp: S + 1 } } },
      version: 2,
      timestamp: S + 1,
    });
  });

  it("update/delta is sent only while desired differs from reported", () => {
    assert.deepEqual(renderAwsDelta(second, { clientToken: "t" }), {
      version: 2,
      timestamp: S + 1,
      state: { color: "green" },
      metadata: { color: { timestamp: S + 1 } },
      clientToken: "t",
    });
    assert.equal(renderAwsDelta(first), undefined);
  });

  it("update/documents shows the shadow before and after", () => {
    assert.deepEqual(renderAwsDocuments(second), {
      previous: {
        state: { reported: { color: "red" } },
        metadata: { reported: { color: { timestamp: S } } },
        version: 1,
      },
      current: {
        state: { desired: { color: "green" }, reported: { color: "red" } },
        metadata: {
          desired: { color: { timestamp: S + 1 } },
          reported: { color: { timestamp: S } },
        },
        version: 2,
      },
      timestamp: S + 1,
    });
  });

  it("delete/accepted and error bodies carry timestamp and client token", () => {
    assert.deepEqual(renderAwsDeleteAccepted(3, T, { clientToken: "x" }), {
      version: 3,
      timestamp: S,
      clientToken: "x",
    });
    assert.deepEqual(
      renderAwsError({ _tag: "VersionConflict", expected: 1, current: 2 }, T, { clientToken: "x" }),
      {
        code: 409,
        message: "Version conflict",
        timestamp: S,
        clientToken: "x",
      },
    );
  });

  it("maps engine errors to AWS codes: 400, 404, 409, 413, 415, 500", () => {
    const cases: [ShadowError, number][] = [
      [{ _tag: "InvalidJson", detail: "" }, 400],
      [{ _tag: "StateMissing" }, 400],
      [{ _tag: "DepthExceeded", path: "", limit: 8 }, 400],
      [{ _tag: "InvalidVersion", reason: "" }, 400],
      [{ _tag: "ShadowNotFound" }, 404],
      [{ _tag: "VersionNotNewer", requested: 1, current: 1 }, 409],
      [{ _tag: "PayloadTooLarge", size: 1, limit: 0 }, 413],
      [{ _tag: "DocumentTooLarge", size: 1, limit: 0 }, 413],
      [{ _tag: "InvalidEncoding" }, 415],
      [{ _tag: "Unspecified", detail: "" }, 500],
    ];
    for (const [error, code] of cases) assert.equal(awsError(error).code, code, error._tag);
    assert.equal(awsError({ _tag: "StateMissing" }).message, "Missing required node: state");
  });
});

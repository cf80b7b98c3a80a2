import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALIYUN_ERROR_MESSAGES,
  aliyunErrorCode,
  applyTwinPatch,
  applyTwinReported,
  applyUpdate,
  createShadow,
  queueFunctionCall,
  renderAliyunControl,
  renderAliyunDocument,
  renderAliyunError,
  renderAliyunReply,
  renderTwin,
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

/** What the Node SDK sends as `version`: `Date.now()` at the time of the call. */
const SDK_VERSION = 1796279699317;

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

  it("takes a version newer than the shadow's as its own and refuses one that is not (409)", () => {
    const doc = deepFreeze({ ...createShadow("pk", "dn", 0), version: 5 });
    assert.equal(unwrap(newer(doc, 6, { a: "x" })).doc.version, 6);
    const jumped = unwrap(newer(doc, 100, { a: "x" })).doc;
    assert.equal(jumped.version, 100);
    assert.equal((jumped.metadata.reported.a as { version: number }).version, 100);
    for (const stale of [5, 4, 0]) {
      const error = failure(newer(doc, stale, { a: "x" }));
      assert.deepEqual(error, { _tag: "VersionNotNewer", requested: stale, current: 5 });
      assert.equal(aliyunErrorCode(error), 409);
    }
  });

  it("follows the documented sequence: device 1 → 1, app 2 → 2, device clears desired with 3 → 3", () => {
    const device1 = unwrap(newer(createShadow("pk", "dn", 0), 1, { color: "red" })).doc;
    assert.equal(device1.version, 1);
    const app2 = unwrap(
      applyUpdate(
        deepFreeze(device1),
        { desired: { color: "green" }, source: "cloud", version: { kind: "newer", version: 2 } },
        { now: T },
      ),
    ).doc;
    assert.equal(app2.version, 2);
    assert.equal(renderAliyunControl(app2, T).version, 2);
    const device3 = unwrap(
      applyUpdate(
        deepFreeze(app2),
        { desired: null, source: "device", version: { kind: "newer", version: 3 } },
        { now: T },
      ),
    ).doc;
    assert.equal(device3.version, 3);
    assert.deepEqual(device3.desired, {});
    assert.deepEqual(device3.reported, { color: "red" });
  });

  it("moves the version to the Node SDK's Date.now() and then refuses a small version (409)", () => {
    const posted = unwrap(newer(createShadow("pk", "dn", 0), SDK_VERSION, { color: "red" })).doc;
    assert.equal(posted.version, SDK_VERSION);
    assert.deepEqual(renderAliyunReply(posted.version, T).payload, {
      status: "success",
      version: SDK_VERSION,
    });
    const error = failure(newer(deepFreeze(posted), 1, { color: "blue" }));
    assert.deepEqual(error, { _tag: "VersionNotNewer", requested: 1, current: SDK_VERSION });
    assert.equal(aliyunErrorCode(error), 409);
    // A write without a version rule (the API, another dialect) goes one on from the jump.
    const next = unwrap(
      applyUpdate(posted, { desired: { color: "blue" }, source: "cloud" }, { now: T }),
    );
    assert.equal(next.doc.version, SDK_VERSION + 1);
  });

  it("clears desired and reported with their metadata on -1, at version 0, then applies the request", () => {
    const before = deepFreeze(
      unwrap(
        applyUpdate(
          { ...createShadow("pk", "dn", 0), version: 41 },
          { desired: { d: 1 }, reported: { old: 2, keep: "x" }, source: "device" },
          { now: T - 1000 },
        ),
      ).doc,
    );
    const reset = unwrap(
      applyUpdate(
        before,
        { reported: { a: 1 }, source: "device", version: { kind: "newer", version: -1 } },
        { now: T },
      ),
    );
    assert.equal(reset.doc.version, 0);
    assert.equal(reset.doc.epoch, 1);
    assert.deepEqual(reset.doc.desired, {});
    assert.deepEqual(reset.doc.reported, { a: 1 });
    assert.deepEqual(reset.doc.metadata.desired, {});
    assert.deepEqual(reset.doc.metadata.reported, {
      a: { timestamp: T, version: 0, source: "device", quality: "good" },
    });
    assert.equal(reset.delta, undefined);
    // The event says what changed, so a copy kept from events ends up cleared too.
    assert.deepEqual(reset.applied, { desired: null, reported: { old: null, keep: null, a: 1 } });
    assert.deepEqual(renderAliyunDocument(reset.doc).state, { reported: { a: 1 } });
    // From 0 the rule is as before: 1 is newer, 0 is not.
    assert.equal(failure(newer(reset.doc, 0, { a: "y" }))._tag, "VersionNotNewer");
    const after = unwrap(newer(reset.doc, 1, { a: "y" })).doc;
    assert.equal(after.version, 1);
    assert.equal(after.epoch, 1, "the epoch stays until the next reset");
    assert.equal(unwrap(newer(after, -1, { b: "z" })).doc.epoch, 2);
  });

  it("resets an empty request section to nothing: 'desired':'null' with -1 leaves an empty shadow", () => {
    const before = unwrap(newer(createShadow("pk", "dn", 0), 9, { a: "x" })).doc;
    const reset = unwrap(
      applyUpdate(
        deepFreeze(before),
        { desired: null, source: "device", version: { kind: "newer", version: -1 } },
        { now: T },
      ),
    ).doc;
    assert.equal(reset.version, 0);
    assert.deepEqual([reset.desired, reset.reported], [{}, {}]);
    assert.deepEqual(renderAliyunDocument(reset).state, {});
  });

  it("keeps function calls across a reset: a pending call is shown to the device again", () => {
    const withData = unwrap(newer(createShadow("pk", "dn", 0), 5, { a: "x" })).doc;
    const queued = unwrap(
      queueFunctionCall(withData, { funcKey: "reboot" }, { now: T, online: true }),
    );
    const reset = unwrap(newer(deepFreeze(queued.write.doc), -1, { a: "y" }));
    assert.equal(reset.doc.version, 0);
    assert.deepEqual(reset.doc.functions, queued.write.doc.functions);
    const shown = reset.doc.desired._function as { requestId: string; status: string };
    assert.equal(shown.requestId, queued.call.requestId);
    assert.equal(shown.status, "pending");
    assert.deepEqual(Object.keys(reset.delta ?? {}), ["_function"]);
  });

  it("drops a twin's acks and components on a reset and keeps its model id", () => {
    const twin = unwrap(
      applyTwinPatch(
        unwrap(newer(createShadow("pk", "dn", 0), 3, { a: "x" })).doc,
        [{ op: "add", path: "/thermostat/target", value: 21 }],
        { now: T },
      ),
    ).doc;
    const acked = unwrap(
      applyTwinReported(
        {
          ...twin,
          metadata: { ...twin.metadata, twin: { ...twin.metadata.twin, model: "dtmi:x;1" } },
        },
        { thermostat: { __t: "c", target: { value: 21, ac: 200, av: 4 } } },
        { now: T },
      ),
    ).doc;
    assert.ok(acked.metadata.twin?.acks?.["/thermostat/target"]);
    const reset = unwrap(newer(deepFreeze(acked), -1, { a: "y" })).doc;
    assert.deepEqual(reset.metadata.twin, { model: "dtmi:x;1" });
    assert.deepEqual(renderTwin(reset), {
      $dtId: "dn",
      a: "y",
      $metadata: { $model: "dtmi:x;1", a: { lastUpdateTime: "2016-07-26T20:21:32.0000000Z" } },
    });
  });

  it("refuses a version that is not an integer, or below -1, with 403", () => {
    const doc = createShadow("pk", "dn", 0);
    for (const bad of [
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      -2,
      "7" as unknown as number,
    ])
      assert.equal(aliyunErrorCode(failure(newer(doc, bad, { a: "x" }))), 403, String(bad));
  });

  it("stops at the largest safe version until a device resets it with -1", () => {
    const top = unwrap(newer(createShadow("pk", "dn", 0), Number.MAX_SAFE_INTEGER, { a: "x" })).doc;
    assert.equal(top.version, Number.MAX_SAFE_INTEGER);
    const stuck = failure(applyUpdate(top, { desired: { a: "y" }, source: "cloud" }, { now: T }));
    assert.equal(stuck._tag, "InvalidVersion");
    assert.equal(
      failure(queueFunctionCall(top, { funcKey: "f" }, { now: T, online: true }))._tag,
      "InvalidVersion",
    );
    assert.equal(unwrap(newer(top, -1, { a: "z" })).doc.version, 0);
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

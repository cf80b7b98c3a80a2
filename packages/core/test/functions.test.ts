import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  awsError,
  createShadow,
  DEFAULT_FUNCTION_TIMEOUT_MS,
  defaultLimits,
  expireBeforeWrite,
  expireFunctionCalls,
  type FunctionCall,
  getFunctionCall,
  nextFunctionExpiry,
  queueFunctionCall,
  type ShadowDocument,
} from "../src/index.js";
import { deepFreeze, failure, unwrap, wire } from "./helpers.js";

const queue = (doc: ShadowDocument, funcKey: string, now: number, timeoutMs?: number) =>
  unwrap(
    queueFunctionCall(
      doc,
      { funcKey, params: { n: now }, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
      { now, online: false },
    ),
  );

const answer = (
  doc: ShadowDocument,
  call: FunctionCall,
  status: "completed" | "failed",
  now: number,
) =>
  unwrap(
    applyUpdate(
      doc,
      {
        reported: {
          _function_result: {
            requestId: call.requestId,
            status,
            result: { ok: status === "completed" },
          },
        },
        source: "device",
      },
      { now },
    ),
  );

const current = (doc: ShadowDocument) =>
  doc.desired._function as Record<string, unknown> | undefined;

describe("function calls (seed 001)", () => {
  it("records whether the device was online and when the call was queued", () => {
    const { call, write } = queue(deepFreeze(createShadow("p", "d", 0)), "reboot", 100);
    assert.equal(call.isOnline, false);
    assert.equal(call.queuedAt, 100);
    assert.equal(call.deadline, 100 + DEFAULT_FUNCTION_TIMEOUT_MS);
    assert.equal(write.doc.version, 1);
    assert.equal(write.doc.metadata.sync.status, "pending");
    assert.deepEqual(getFunctionCall(write.doc, call.requestId), call);
  });

  it("delivers queued calls one at a time, in order", () => {
    let doc = createShadow("p", "d", 0);
    const first = queue(doc, "a", 100);
    const second = queue(first.write.doc, "b", 200);
    doc = second.write.doc;
    assert.equal(current(doc)?.requestId, first.call.requestId, "the oldest pending call is shown");
    assert.deepEqual(second.write.delta, { _function: current(doc) });

    const afterFirst = answer(deepFreeze(wire(doc)), first.call, "completed", 300);
    assert.equal(current(afterFirst.doc)?.requestId, second.call.requestId, "then the next one");
    assert.equal(current(afterFirst.doc)?.status, "pending");
    assert.deepEqual(afterFirst.delta, { _function: current(afterFirst.doc) });

    const afterSecond = answer(afterFirst.doc, second.call, "failed", 400);
    assert.equal(current(afterSecond.doc)?.requestId, second.call.requestId);
    assert.equal(current(afterSecond.doc)?.status, "failed");
    assert.equal(afterSecond.delta, undefined, "nothing pending: nothing to deliver");
    assert.deepEqual(
      afterSecond.doc.functions?.map((c) => c.status),
      ["completed", "failed"],
    );
  });

  it("keeps the seed's id form unique when one function is called twice in a millisecond", () => {
    const first = queue(createShadow("p", "d", 0), "ping", 500);
    const second = queue(first.write.doc, "ping", 500);
    assert.equal(first.call.requestId, "p_d_ping_500");
    assert.equal(second.call.requestId, "p_d_ping_501");
  });

  it("ignores an answer to an unknown call, keeping the answer as reported", () => {
    const { write } = queue(createShadow("p", "d", 0), "a", 100);
    const stray = unwrap(
      applyUpdate(
        write.doc,
        {
          reported: { _function_result: { requestId: "nope", status: "completed" } },
          source: "device",
        },
        { now: 200 },
      ),
    );
    assert.equal(stray.doc.functions?.[0]?.status, "pending");
    assert.equal(stray.doc.functions, write.doc.functions);
  });

  it("times a call out at its deadline, and not before", () => {
    const { call, write } = queue(createShadow("p", "d", 0), "slow", 1000, 5000);
    assert.equal(unwrap(expireFunctionCalls(write.doc, { now: 5999 })), undefined);
    const expired = unwrap(expireFunctionCalls(write.doc, { now: 6000 }));
    assert.ok(expired);
    assert.equal(getFunctionCall(expired.doc, call.requestId)?.status, "timeout");
    assert.equal(current(expired.doc)?.status, "timeout");
    assert.equal(expired.delta, undefined);
    assert.equal(expired.doc.version, write.doc.version + 1);
  });

  it("does not let a late answer revive a timed-out call", () => {
    const { call, write } = queue(createShadow("p", "d", 0), "slow", 1000, 5000);
    const expired = unwrap(expireFunctionCalls(write.doc, { now: 6000 }));
    assert.ok(expired);
    const late = answer(expired.doc, call, "completed", 7000);
    assert.equal(getFunctionCall(late.doc, call.requestId)?.status, "timeout");
  });

  it("cleans up finished calls after the retention period, with the answer that closed them", () => {
    const { call, write } = queue(createShadow("p", "d", 0), "a", 1000);
    const done = answer(write.doc, call, "completed", 2000);
    assert.equal(nextFunctionExpiry(done.doc, 10_000), 12_000);
    assert.equal(
      unwrap(expireFunctionCalls(done.doc, { now: 11_999, retentionMs: 10_000 })),
      undefined,
    );
    const cleaned = unwrap(expireFunctionCalls(done.doc, { now: 12_000, retentionMs: 10_000 }));
    assert.ok(cleaned);
    assert.equal(cleaned.doc.functions, undefined);
    assert.equal(cleaned.doc.desired._function, undefined);
    assert.equal(cleaned.doc.reported._function_result, undefined);
    assert.deepEqual(cleaned.doc.metadata.desired, {});
    assert.deepEqual(cleaned.doc.metadata.reported, {});
    assert.equal(nextFunctionExpiry(cleaned.doc), undefined);
  });

  it("tells when the next deadline falls", () => {
    const first = queue(createShadow("p", "d", 0), "a", 1000, 9000);
    const second = queue(first.write.doc, "b", 2000, 3000);
    assert.equal(nextFunctionExpiry(second.write.doc), 5000);
  });

  it("refuses bad calls and changes nothing", () => {
    const doc = deepFreeze(createShadow("p", "d", 0));
    const bad = [
      { funcKey: "" },
      { funcKey: "$x" },
      { funcKey: 5 as unknown as string },
      { funcKey: "ok", params: [] as unknown as Record<string, never> },
      { funcKey: "ok", params: { $x: 1 } },
      { funcKey: "ok", timeoutMs: 0 },
      { funcKey: "ok", timeoutMs: 1.5 },
      { funcKey: "ok", timeoutMs: 8 * 24 * 3600 * 1000 },
    ];
    for (const request of bad)
      assert.equal(
        failure(queueFunctionCall(doc, request, { now: 1, online: true }))._tag,
        "InvalidParameter",
        JSON.stringify(request),
      );
  });

  it("refuses a call when the device already has the most calls waiting", () => {
    let doc = createShadow("p", "d", 0);
    for (let i = 0; i < defaultLimits.maxPendingCalls; i++)
      doc = queue(doc, `f${i}`, 100 + i).write.doc;
    const error = failure(
      queueFunctionCall(deepFreeze(doc), { funcKey: "one_more" }, { now: 500, online: true }),
    );
    assert.deepEqual(error, { _tag: "QueueFull", pending: 16, limit: 16 });
    assert.equal(awsError(error).code, 429);
  });

  it("keeps at most as many finished calls as may wait, dropping the oldest", () => {
    let doc = createShadow("p", "d", 0);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { call, write } = queue(doc, "tick", 1000 * (i + 1));
      ids.push(call.requestId);
      doc = answer(write.doc, call, "completed", 1000 * (i + 1) + 500).doc;
    }
    const kept = doc.functions?.map((c) => c.requestId) ?? [];
    assert.equal(kept.length, defaultLimits.maxPendingCalls + 1);
    assert.deepEqual(kept, ids.slice(-kept.length), "the newest are kept, in order");
  });

  it("refuses params larger than a payload may be", () => {
    const params = { blob: "x".repeat(defaultLimits.maxPayloadBytes) };
    const error = failure(
      queueFunctionCall(
        createShadow("p", "d", 0),
        { funcKey: "f", params },
        { now: 1, online: true },
      ),
    );
    assert.equal(error._tag, "PayloadTooLarge");
  });

  it("keeps the call when the cloud clears desired", () => {
    const { write } = queue(createShadow("p", "d", 0), "a", 100);
    const cleared = unwrap(
      applyUpdate(write.doc, { desired: null, source: "cloud" }, { now: 200 }),
    );
    assert.equal(current(cleared.doc)?.status, "pending");
  });

  it("keeps a call's own retention period, which wins over the clean-up's", () => {
    const { call, write } = unwrap(
      queueFunctionCall(
        createShadow("p", "d", 0),
        { funcKey: "a", retentionMs: 500 },
        { now: 1000, online: false },
      ),
    );
    assert.equal(call.retentionMs, 500);
    const done = answer(write.doc, call, "failed", 2000);
    assert.equal(nextFunctionExpiry(done.doc, 10_000), 2500);
    assert.equal(unwrap(expireFunctionCalls(done.doc, { now: 2499, retentionMs: 1 })), undefined);
    assert.equal(unwrap(expireFunctionCalls(done.doc, { now: 2500 }))?.doc.functions, undefined);
    const bad = failure(
      queueFunctionCall(
        createShadow("p", "d", 0),
        { funcKey: "a", retentionMs: -1 },
        { now: 1, online: false },
      ),
    );
    assert.equal(bad._tag, "InvalidParameter");
  });

  it("folds expiry into the next write without a version of its own", () => {
    const first = queue(createShadow("p", "d", 0), "a", 1000, 100);
    const second = queue(first.write.doc, "b", 1001);
    const doc = deepFreeze(second.write.doc);
    assert.equal(expireBeforeWrite(doc, { now: 1099 }), doc);
    const folded = expireBeforeWrite(doc, { now: 1100 });
    assert.equal(folded.version, doc.version);
    assert.equal(getFunctionCall(folded, first.call.requestId)?.status, "timeout");
    assert.equal(current(folded)?.requestId, second.call.requestId);
    const next = unwrap(
      applyUpdate(folded, { reported: { t: 1 }, source: "device" }, { now: 1100 }),
    );
    assert.equal(next.doc.version, doc.version + 1);
    assert.equal(
      (next.delta?._function as { requestId?: string } | undefined)?.requestId,
      second.call.requestId,
    );
  });
});

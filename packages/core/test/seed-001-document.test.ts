import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyUpdate,
  computeDelta,
  createShadow,
  DEFAULT_SYNC_INTERVAL_MS,
  isoSeconds,
  makeRequestId,
  markSynced,
  markSyncFailed,
  queueFunctionCall,
  type ShadowDocument,
  shadowDocumentProblem,
} from "../src/index.js";
import { shadowDocument } from "./fixtures/seeds.js";
import { deepFreeze, unwrap, wire } from "./helpers.js";

const T = 1638443922156;

describe("canonical shadow document (seed 001)", () => {
  it("takes the seed's document as a valid shadow", () => {
    assert.equal(shadowDocumentProblem(shadowDocument), undefined);
    assert.match(shadowDocumentProblem({ ...shadowDocument, version: -1 }) ?? "", /version/);
    assert.match(shadowDocumentProblem({ ...shadowDocument, metadata: {} }) ?? "", /metadata/);
    assert.match(shadowDocumentProblem([]) ?? "", /not an object/);
  });

  it("starts a shadow with the seed's top-level fields, empty, at version 0", () => {
    const doc = createShadow("product456", "device123", Date.parse("2023-12-01T10:30:00Z"));
    assert.deepEqual(Object.keys(doc).sort(), Object.keys(shadowDocument).sort());
    assert.equal(doc.version, 0);
    assert.equal(doc.lastUpdated, "2023-12-01T10:30:00Z");
  });

  it("writes lastUpdated in the seed's format, to the second", () => {
    assert.equal(isoSeconds(Date.parse("2023-12-01T10:30:00.999Z")), "2023-12-01T10:30:00Z");
  });

  it("stamps each leaf a device writes with the seed's metadata: ms timestamp, version, source, quality", () => {
    const atTwo = deepFreeze({ ...createShadow("product456", "device123", T - 10), version: 2 });
    const write = unwrap(
      applyUpdate(atTwo, { reported: { temperature: 25.6 }, source: "device" }, { now: T }),
    );
    assert.equal(write.doc.version, 3);
    assert.deepEqual(write.doc.metadata.reported, shadowDocument.metadata.reported);
  });

  it("stamps each leaf the cloud writes with source cloud", () => {
    const atTwo = deepFreeze({ ...createShadow("product456", "device123", T - 10), version: 2 });
    const write = unwrap(
      applyUpdate(atTwo, { desired: { temperature: 24.0 }, source: "cloud" }, { now: T }),
    );
    assert.deepEqual(write.doc.metadata.desired, shadowDocument.metadata.desired);
  });

  it("records the quality a writer gives", () => {
    const write = unwrap(
      applyUpdate(
        createShadow("p", "d", 0),
        { reported: { t: 1 }, source: "device", quality: "uncertain" },
        { now: 5 },
      ),
    );
    assert.equal((write.doc.metadata.reported.t as { quality: string }).quality, "uncertain");
  });

  it("computes the seed document's delta: temperature, and no finished function call", () => {
    const doc = shadowDocument as unknown as ShadowDocument;
    assert.deepEqual(computeDelta(doc.desired, doc.reported), { temperature: 24.0 });
  });

  it("makes request ids of the seed's form", () => {
    assert.equal(
      makeRequestId("product456", "device123", "setTemp", T),
      "product456_device123_setTemp_1638443922156",
    );
  });

  it("runs the seed's function call: queued pending, completed by reported._function_result", () => {
    const doc = deepFreeze(createShadow("product456", "device123", T - 1000));
    const queued = unwrap(
      queueFunctionCall(
        doc,
        { funcKey: "setTemp", params: { target: 24.0 } },
        { now: T, online: true },
      ),
    );
    assert.deepEqual(queued.write.doc.desired._function, {
      ...shadowDocument.desired._function,
      status: "pending",
    });
    assert.deepEqual(queued.write.delta, { _function: queued.write.doc.desired._function });

    const answered = unwrap(
      applyUpdate(
        deepFreeze(wire(queued.write.doc)),
        {
          reported: { _function_result: shadowDocument.reported._function_result },
          source: "device",
        },
        { now: T + 500 },
      ),
    );
    assert.deepEqual(answered.doc.desired._function, shadowDocument.desired._function);
    assert.deepEqual(
      answered.doc.reported._function_result,
      shadowDocument.reported._function_result,
    );
    assert.equal(answered.doc.functions?.[0]?.status, "completed");
    assert.deepEqual(answered.doc.functions?.[0]?.result, { success: true });
    assert.equal(answered.delta, undefined, "a completed call is not sent to the device again");
  });

  it("keeps the seed's sync block: synced after delivery, next sync 5 s later", () => {
    const doc = markSynced(createShadow("product456", "device123", 0), T);
    assert.deepEqual(doc.metadata.sync, shadowDocument.metadata.sync);
    assert.equal(DEFAULT_SYNC_INTERVAL_MS, 5000);
  });

  it("marks sync pending when the cloud changes desired, and synced when the device catches up", () => {
    const cloud = unwrap(
      applyUpdate(
        createShadow("p", "d", 0),
        { desired: { mode: "eco" }, source: "cloud" },
        { now: 100 },
      ),
    );
    assert.equal(cloud.doc.metadata.sync.status, "pending");
    assert.equal(cloud.doc.metadata.sync.nextSyncTime, 100);
    const device = unwrap(
      applyUpdate(cloud.doc, { reported: { mode: "eco" }, source: "device" }, { now: 200 }),
    );
    assert.equal(device.doc.metadata.sync.status, "synced");
    assert.equal(device.doc.metadata.sync.lastSyncTime, 200);
  });

  it("counts failed deliveries and plans the retry", () => {
    const failed = markSyncFailed(createShadow("p", "d", 0), "device offline", 1000, 2000);
    const again = markSyncFailed(failed, "device offline", 3000, 4000);
    assert.deepEqual(again.metadata.sync, {
      lastSyncTime: 0,
      status: "failed",
      lastError: "device offline",
      retryCount: 2,
      nextSyncTime: 7000,
    });
    assert.equal(again.version, 0, "sync bookkeeping is not a write");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  awsAnswerTopic,
  awsDialect,
  awsRequestTopic,
  type DeviceId,
  SESSION_PRODUCT,
  SUBACK_FAILURE,
} from "../src/index.js";

const P = "$aws/things/thing1/shadow";
const N = "$aws/things/thing1/shadow/name/lamp";
/** The session's check as the edge makes it: the thing name, product left to the session. */
const mine = (d: DeviceId) => d.productId === SESSION_PRODUCT && d.deviceName === "thing1";
const verdict = (filter: string, qos: 0 | 1 | 2 = 1) =>
  awsDialect.subscribeVerdict(filter, qos, mine);

describe("AWS topics", () => {
  it("reads update, get and delete of the classic and of a named shadow, product left to the session", () => {
    for (const op of ["update", "get", "delete"] as const) {
      assert.deepEqual(awsDialect.parseTopic(`${P}/${op}`), {
        kind: "command",
        dialect: "aws",
        device: { productId: "", deviceName: "thing1" },
        op,
        shadow: undefined,
      });
      assert.deepEqual(awsDialect.parseTopic(`${N}/${op}`), {
        kind: "command",
        dialect: "aws",
        device: { productId: "", deviceName: "thing1" },
        op,
        shadow: "lamp",
      });
      assert.equal(awsRequestTopic("thing1", undefined, op), `${P}/${op}`);
      assert.equal(awsRequestTopic("thing1", "lamp", op), `${N}/${op}`);
    }
  });

  it("reads no answer topic, unknown operation, bad name or other prefix as a request", () => {
    for (const topic of [
      `${P}/update/accepted`,
      `${P}/update/delta`,
      `${P}/get/rejected`,
      `${P}/patch`,
      `${P}`,
      `${N}/update/documents`,
      `${N}`,
      "$aws/things/thing1/shadow/name/ba d/update",
      `$aws/things/thing1/shadow/name/${"s".repeat(65)}/update`,
      "$aws/things/+/shadow/update",
      "$aws/things//shadow/update",
      `$aws/things/${"t".repeat(65)}/shadow/update`,
      "$aws/things/thing1/jobs/get",
      "$sys/p/d/image/update",
    ])
      assert.equal(awsDialect.parseTopic(topic), undefined, topic);
    assert.equal(
      awsDialect.parseTopic(`$aws/things/thing1/shadow/name/${"s".repeat(64)}/get`)?.kind,
      "command",
    );
    assert.equal(
      awsDialect.parseTopic("$aws/things/thing1/shadow/name/$x:y_z-1/get")?.kind,
      "command",
    );
  });

  it("builds the answer topics", () => {
    assert.equal(awsAnswerTopic("thing1", undefined, "update/delta"), `${P}/update/delta`);
    assert.equal(awsAnswerTopic("thing1", undefined, "update/documents"), `${P}/update/documents`);
    assert.equal(awsAnswerTopic("thing1", "lamp", "get/accepted"), `${N}/get/accepted`);
    assert.equal(awsAnswerTopic("thing1", "lamp", "delete/rejected"), `${N}/delete/rejected`);
  });

  it("grants the seven filters v1 registers at QoS 0, and the v2 client's at QoS 1", () => {
    const v1 = [
      "update/delta",
      "update/accepted",
      "update/rejected",
      "get/accepted",
      "get/rejected",
      "delete/accepted",
      "delete/rejected",
    ];
    for (const f of v1) assert.equal(verdict(`${P}/${f}`, 0), 0, f);
    for (const f of ["get/+", "delete/+", "update/+", "update/accepted", "update/documents"]) {
      assert.equal(verdict(`${P}/${f}`), 1, f);
      assert.equal(verdict(`${N}/${f}`), 1, `named ${f}`);
    }
    assert.equal(verdict(`${P}/update/delta`, 2), 1, "no QoS 2");
  });

  it("grants + and # below its own thing name", () => {
    for (const f of [
      "$aws/things/thing1/#",
      `${P}/#`,
      `${P}/+/accepted`,
      `${P}/name/+/update/delta`,
      `${P}/name/+/#`,
      `${N}/#`,
      "$aws/things/thing1/+/update/accepted",
    ])
      assert.equal(verdict(f), 1, f);
  });

  it("refuses a wildcard at the thing level or above, another thing, and filters reaching no answer", () => {
    for (const f of [
      "$aws/things/+/shadow/update/delta",
      "$aws/things/#",
      "$aws/+/thing1/shadow/update/delta",
      "$aws/#",
      "$aws/things/thing2/shadow/update/delta",
      "$aws/things/thing2/shadow/#",
      "$aws/things/thing2/shadow/name/lamp/get/+",
      `${P}/update`,
      `${P}/get`,
      `${P}/update/accepted/extra`,
      `${P}/#/accepted`,
      `${P}/update/acc+`,
      `${P}/name/ba d/update/delta`,
      "$aws/things/thing1/jobs/notify",
    ])
      assert.equal(verdict(f), SUBACK_FAILURE, f);
  });

  it("leaves filters outside $aws/ to other dialects", () => {
    assert.equal(verdict("$sys/p/thing1/image/update/delta"), undefined);
    assert.equal(verdict("#"), undefined);
  });

  it("asks for a sync when a granted filter can hear others' writes (update/accepted or update/documents), so the shard knows an AWS session listens", () => {
    const device = { productId: "p", deviceName: "thing1" };
    const sync = (filters: string[]) => awsDialect.syncOnSubscribe?.(device, filters);
    assert.equal(sync([`${P}/update/documents`]), true);
    assert.equal(sync([`${P}/update/accepted`]), true);
    assert.equal(sync([`${P}/#`]), true);
    assert.equal(sync([`${P}/update/+`]), true);
    assert.equal(sync(["$sys/p/thing1/image/update/delta", `${N}/update/documents`]), true);
    assert.equal(sync([`$aws/things/thing1/shadow/name/+/update/accepted`]), true);
    // What the v2 client subscribes around each get and delete, and the delta stream.
    assert.equal(sync([`${N}/get/+`, `${P}/delete/+`, `${P}/update/delta`]), false);
    assert.equal(sync([`${P}/update/rejected`]), false);
    assert.equal(sync(["$sys/p/thing1/image/update/delta"]), false);
    assert.equal(sync([]), false);
  });

  it("says in the sync's payload whether the filters hear update/documents (1) or only update/accepted (0)", () => {
    const device = { productId: "p", deviceName: "thing1" };
    const payload = (filters: string[]) => [...(awsDialect.syncPayload?.(device, filters) ?? [])];
    assert.deepEqual(payload([`${P}/update/documents`]), [1]);
    assert.deepEqual(payload([`${P}/update/accepted`, `${N}/update/+`]), [1]);
    assert.deepEqual(payload([`${P}/#`]), [1]);
    assert.deepEqual(payload([`${P}/update/accepted`, `${P}/update/rejected`]), [0]);
  });
});

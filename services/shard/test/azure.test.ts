import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandHeader } from "@umbra/bus";
import { type ShadowDocument, sectionVersionsOf } from "@umbra/core";
import { azureDialect, azureMethodRid, type DeviceOp, encodeAzureModelSync } from "@umbra/dialects";
import { deviceHarness } from "./helpers.js";

// The Azure dialect through the shard's handlers and the dialect's renders: what a device
// publishing `$iothub/…` is answered, and what the shadow keeps.

const device = { productId: "hub", deviceName: "d" };
const azure = (op: CommandHeader["op"], token?: string): CommandHeader => ({
  op,
  device: "hub/d",
  dialect: "azure",
  source: "device",
  token,
});
const cloud = (op: CommandHeader["op"]): CommandHeader => ({
  op,
  device: "hub/d",
  source: "cloud",
});
const { run, answers, pushes } = deviceHarness(device, azureDialect);
/** What the edge hands the shard for a topic: its op and token. */
const request = (topic: string): { op: DeviceOp; token: string | undefined } => {
  const parsed = azureDialect.parseTopic(topic);
  assert.ok(parsed?.kind === "command", topic);
  return { op: parsed.op, token: parsed.token };
};

describe("Azure twin through the shard", () => {
  it("answers a GET on a device never written with an empty twin, $rid echoed byte for byte", () => {
    const { op, token } = request("$iothub/twin/GET/?$rid=a%2Fb-1");
    const out = run(undefined, azure(op, token), "");
    assert.equal(out.changed, false);
    assert.deepEqual(answers(out.event), [
      {
        topic: "$iothub/twin/res/200/?$rid=a%2Fb-1",
        body: '{"desired":{"$version":0},"reported":{"$version":0}}',
      },
    ]);
  });

  it("merges a reported patch (null deletes), answers 204 with reported's $version, and keeps each section's own", () => {
    let doc = run(undefined, cloud("update"), '{"state":{"desired":{"target":21}}}').doc; // v1
    const first = run(doc, azure("update", "1"), '{"t":20,"gone":1}');
    doc = first.doc;
    assert.deepEqual(answers(first.event), [
      { topic: "$iothub/twin/res/204/?$rid=1&$version=2", body: "" },
    ]);
    const second = run(doc, azure("update", "2"), '{"gone":null}');
    doc = second.doc;
    assert.deepEqual(doc?.reported, { t: 20 });
    assert.deepEqual(sectionVersionsOf(doc as ShadowDocument), { desired: 1, reported: 3 });
    const get = run(doc, azure("get", "3"), "");
    assert.deepEqual(JSON.parse(answers(get.event)[0]?.body ?? ""), {
      desired: { target: 21, $version: 1 },
      reported: { t: 20, $version: 3 },
    });
  });

  it("refuses a patch past the twin limits with 400 and an errorCode body, changing nothing", () => {
    const deep = `${'{"a":'.repeat(11)}1${"}".repeat(11)}`;
    for (const payload of ['{"a.b":1}', '{"$version":3}', deep, "[1]", "nope"]) {
      const out = run(undefined, azure("update", "9"), payload);
      assert.equal(out.changed, false, payload);
      const [answer] = answers(out.event);
      assert.equal(answer?.topic, "$iothub/twin/res/400/?$rid=9", payload);
      const body = JSON.parse(answer?.body ?? "{}");
      assert.equal(body.errorCode, 400004, payload);
      assert.equal(typeof body.message, "string");
    }
  });

  it("records a writable-property ack in the twin's $metadata and shows it wrapped on a GET", () => {
    const created = run(undefined, azure("update", "0"), '{"t":20}');
    const set = run(
      created.doc,
      cloud("twin"),
      '[{"op":"add","path":"/targetTemperature","value":21}]',
    );
    const desiredVersion = set.doc?.version as number;
    const ack = run(
      set.doc,
      azure("update", "4"),
      JSON.stringify({ targetTemperature: { value: 21, ac: 200, av: desiredVersion, ad: "done" } }),
    );
    const acks = ack.doc?.metadata.twin?.acks;
    assert.deepEqual(
      { ...acks?.["/targetTemperature"], timestamp: 0 },
      { code: 200, version: desiredVersion, description: "done", timestamp: 0 },
    );
    assert.equal(ack.doc?.reported.targetTemperature, 21);
    const get = run(ack.doc, azure("get", "5"), "");
    const twin = JSON.parse(answers(get.event)[0]?.body ?? "");
    assert.deepEqual(twin.reported.targetTemperature, {
      value: 21,
      ac: 200,
      av: desiredVersion,
      ad: "done",
    });
  });

  it("records the model id a connect announces as the twin's $model, without a new version", () => {
    const payload = new TextDecoder().decode(encodeAzureModelSync("dtmi:com:example:Thermostat;1"));
    const synced = run(undefined, azure("sync"), payload);
    assert.equal(synced.changed, true);
    assert.equal(synced.doc?.metadata.twin?.model, "dtmi:com:example:Thermostat;1");
    assert.equal(synced.doc?.version, 0);
    const again = run(synced.doc, azure("sync"), payload);
    assert.equal(again.changed, false, "the same model: nothing to write");
    const bad = run(undefined, azure("sync"), "not-a-dtmi");
    assert.equal(bad.changed, false);
    assert.equal(bad.event.kind, "rejected");
  });
});

describe("Azure direct methods through the shard", () => {
  const queue = (doc: ShadowDocument | undefined, funcKey: string, now: number) =>
    run(doc, cloud("function"), JSON.stringify({ queue: { funcKey, params: { delay: 1 } } }), now);

  it("sends a queued call as a method, settles it with the device's result, then sends the next", () => {
    const first = queue(undefined, "reboot", 1000);
    const second = queue(first.doc, "blink", 1001);
    const [call] = pushes(first.event);
    const requestId = first.doc?.functions?.[0]?.requestId as string;
    assert.deepEqual(call, {
      topic: `$iothub/methods/POST/reboot/?$rid=${azureMethodRid(requestId)}`,
      body: '{"delay":1}',
    });
    assert.deepEqual(pushes(second.event), [], "queued behind the first: not sent yet");
    const { op, token } = request(`$iothub/methods/res/200/?$rid=${azureMethodRid(requestId)}`);
    const result = run(second.doc, azure(op, token), '{"ok":true}', 1002);
    const settled = result.doc?.functions?.[0];
    assert.equal(settled?.status, "completed");
    assert.deepEqual(settled?.result, { ok: true });
    const [next] = answers(result.event);
    assert.match(next?.topic ?? "", /^\$iothub\/methods\/POST\/blink\/\?\$rid=/);
  });

  it("fails a call the device answers with a status of 300 or more", () => {
    const queued = queue(undefined, "reboot", 1000);
    const rid = azureMethodRid(queued.doc?.functions?.[0]?.requestId as string);
    const { op, token } = request(`$iothub/methods/res/500/?$rid=${rid}`);
    const result = run(queued.doc, azure(op, token), '"busy"', 1001);
    assert.equal(result.doc?.functions?.[0]?.status, "failed");
    assert.equal(result.doc?.functions?.[0]?.result, "busy");
  });

  it("refuses a result no pending call matches, changing nothing", () => {
    const queued = queue(undefined, "reboot", 1000);
    const { op, token } = request("$iothub/methods/res/200/?$rid=someone-else");
    const result = run(queued.doc, azure(op, token), "{}", 1001);
    assert.equal(result.changed, false);
    assert.deepEqual(answers(result.event), [], "IoT Hub answers no method result");
  });

  it("delivers the call waiting at the head of the queue when the device subscribes to methods", () => {
    const queued = queue(undefined, "reboot", 1000);
    assert.equal(
      azureDialect.syncOnSubscribe?.(device, ["$iothub/methods/POST/#"]),
      true,
      "the methods filter asks for a sync",
    );
    assert.equal(azureDialect.syncOnSubscribe?.(device, ["$iothub/twin/res/#"]), false);
    const sync = run(queued.doc, azure("sync"), "", 1001);
    assert.match(answers(sync.event)[0]?.topic ?? "", /^\$iothub\/methods\/POST\/reboot\//);
  });

  it("names a call whose request id cannot stand in a topic by a digest, and still settles it", () => {
    const queued = queue(undefined, "with space", 1000);
    const requestId = queued.doc?.functions?.[0]?.requestId as string;
    const rid = azureMethodRid(requestId);
    assert.match(rid, /^h[0-9a-f]{40}$/);
    assert.deepEqual(pushes(queued.event), [], "no method name with a space: the call times out");
    const { op, token } = request(`$iothub/methods/res/200/?$rid=${rid}`);
    assert.equal(
      run(queued.doc, azure(op, token), "", 1001).doc?.functions?.[0]?.status,
      "completed",
    );
  });
});

describe("Azure desired pushes", () => {
  it("push only the changed members with desired's new $version; a clear names every member null", () => {
    const set = run(undefined, cloud("update"), '{"state":{"desired":{"a":1,"b":{"c":2}}}}');
    assert.deepEqual(pushes(set.event), [
      {
        topic: "$iothub/twin/PATCH/properties/desired/?$version=1",
        body: '{"a":1,"b":{"c":2},"$version":1}',
      },
    ]);
    const change = run(set.doc, cloud("update"), '{"state":{"desired":{"b":{"c":3}}}}');
    assert.equal(pushes(change.event)[0]?.body, '{"b":{"c":3},"$version":2}');
    const clear = run(change.doc, cloud("update"), '{"state":{"desired":null}}');
    assert.equal(pushes(clear.event)[0]?.body, '{"a":null,"b":null,"$version":3}');
    const report = run(clear.doc, cloud("update"), '{"state":{"reported":{"x":1}}}');
    assert.deepEqual(pushes(report.event), [], "reported changes are not pushed");
  });
});

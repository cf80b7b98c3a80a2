import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandHeader, ShadowEvent } from "@umbra/bus";
import type { LeafMetadata } from "@umbra/core";
import { oneNetDialect, thingToken } from "@umbra/dialects";
import { deviceHarness } from "./helpers.js";

// The OneNET thing-model uploads the shard runs (property post, desired get and delete),
// through the shard's handlers and the dialect's answers.

const device = { productId: "p", deviceName: "d" };
const upload = (name: Parameters<typeof thingToken>[0]): CommandHeader => ({
  op: "request",
  device: "p/d",
  dialect: "onenet",
  source: "device",
  token: thingToken(name, null),
});
const cloud: CommandHeader = { op: "update", device: "p/d", source: "cloud" };
const { run, answers } = deviceHarness(device, oneNetDialect);
const reply = (event: ShadowEvent) => {
  const [message] = answers(event);
  return { topic: message?.topic, body: JSON.parse(message?.body ?? "null") };
};

describe("OneNET thing model through the shard", () => {
  it("stores a property post as reported, each value stamped with the time it carried", () => {
    const out = run(
      undefined,
      upload("property/post"),
      '{"id":"12","version":"1.0","params":{"temp":{"value":21.5,"time":1700000000000},"on":{"value":true}}}',
      5000,
    );
    assert.deepEqual(out.doc?.reported, { temp: 21.5, on: true });
    const meta = out.doc?.metadata.reported as Record<string, LeafMetadata>;
    assert.equal(meta.temp?.timestamp, 1_700_000_000_000);
    assert.equal(meta.on?.timestamp, 5000, "no time given: the write's");
    assert.deepEqual(reply(out.event), {
      topic: "$sys/p/d/thing/property/post/reply",
      body: { id: "12", code: 200, msg: "success" },
    });
  });

  it("refuses a bad post with its code and the request's id, changing nothing", () => {
    const out = run(undefined, upload("property/post"), '{"id":"3","params":{}}');
    assert.equal(out.changed, false);
    const { body } = reply(out.event);
    assert.equal(body.id, "3");
    assert.notEqual(body.code, 200);
    const big = `{"id":"4","params":{"t":{"value":"${"x".repeat(20_000)}"}}}`;
    const tooLarge = run(undefined, upload("property/post"), big);
    assert.deepEqual(reply(tooLarge.event).body, { id: "4", code: 161, msg: "json out of bound" });
    // Read fine, refused by the engine: two halves that together pass the document bound.
    const half = (key: string, id: string) =>
      `{"id":"${id}","params":{"${key}":{"value":"${"y".repeat(9_000)}"}}}`;
    const first = run(undefined, upload("property/post"), half("a", "5"));
    assert.equal(reply(first.event).body.code, 200);
    const second = run(first.doc, upload("property/post"), half("b", "6"));
    assert.equal(second.changed, false);
    assert.deepEqual(reply(second.event).body, { id: "6", code: 161, msg: "json out of bound" });
    const garbage = run(undefined, upload("property/post"), "{nope");
    assert.deepEqual(reply(garbage.event).body, { id: null, code: 160, msg: "illegal json" });
  });

  it("answers a desired get with the named properties desired now and their versions", () => {
    const set = run(undefined, cloud, '{"state":{"desired":{"a":1,"b":{"c":2}}}}'); // v1
    const more = run(set.doc, cloud, '{"state":{"desired":{"a":5}}}'); // v2
    const get = run(more.doc, upload("property/desired/get"), '{"id":"7","params":["a","b","zz"]}');
    assert.equal(get.changed, false);
    assert.deepEqual(reply(get.event), {
      topic: "$sys/p/d/thing/property/desired/get/reply",
      body: {
        id: "7",
        code: 200,
        msg: "success",
        data: { a: { value: 5, version: 2 }, b: { value: { c: 2 }, version: 1 } },
      },
    });
    const none = run(undefined, upload("property/desired/get"), '{"id":"8","params":["a"]}');
    assert.deepEqual(reply(none.event).body.data, {}, "no shadow: nothing desired");
  });

  it("deletes a desired property only at its latest version", () => {
    const set = run(undefined, cloud, '{"state":{"desired":{"a":1,"b":2}}}'); // v1
    const newer = run(set.doc, cloud, '{"state":{"desired":{"a":3}}}'); // v2: a at 2, b at 1
    const stale = run(
      newer.doc,
      upload("property/desired/delete"),
      '{"id":"9","params":{"a":{"version":1}}}',
    );
    assert.equal(stale.changed, false, "a was set again since version 1");
    assert.equal(reply(stale.event).body.code, 200);
    const latest = run(
      newer.doc,
      upload("property/desired/delete"),
      '{"id":"10","params":{"a":{"version":2},"b":{}}}',
    );
    assert.deepEqual(latest.doc?.desired, {});
    assert.deepEqual(reply(latest.event), {
      topic: "$sys/p/d/thing/property/desired/delete/reply",
      body: { id: "10", code: 200, msg: "success" },
    });
  });

  it("leaves the image's answers alone: an image update has no thing token", () => {
    const out = run(
      undefined,
      { ...cloud, source: "device", dialect: "onenet" },
      '{"state":{"reported":{"x":1}}}',
    );
    assert.equal(answers(out.event)[0]?.topic, "$sys/p/d/image/update/accepted");
  });
});

describe("OneNET pack entries through the shard", () => {
  it("stores a pack entry as the device's property post and answers nothing: the edge answers the pack", () => {
    const out = run(
      undefined,
      upload("pack/post"),
      '{"id":"5","params":{"t":{"value":1,"time":7}}}',
    );
    assert.deepEqual(out.doc?.reported, { t: 1 });
    assert.deepEqual(answers(out.event), []);
    const bad = run(undefined, upload("pack/post"), '{"id":"6","params":{}}');
    assert.equal(bad.changed, false);
    assert.deepEqual(answers(bad.event), []);
  });
});

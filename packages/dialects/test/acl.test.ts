import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  nameProblem,
  ONENET_IMAGE,
  oneNetRequestOf,
  oneNetTopic,
  parseDeviceKey,
  parseDeviceTopic,
  parseOneNetTopic,
  subscribeVerdictOf,
  topicMatches,
} from "../src/index.js";

const me = { productId: "p1", deviceName: "d1" };

/**
 * The prefix ACL the edge enforced before the dialect registry, kept as the model the
 * registry is checked against: a device may publish and subscribe only under its own
 * `$sys/{pid}/{dn}/`, spelled out.
 */
const prefix = `$sys/${me.productId}/${me.deviceName}/`;
const mayPublish = (_: typeof me, topic: string): boolean =>
  topic.length > prefix.length && topic.startsWith(prefix);
const maySubscribe = mayPublish;

const own = (d: { productId: string; deviceName: string }) =>
  d.productId === me.productId && d.deviceName === me.deviceName;
/** What the edge asks the registry for a PUBLISH of `me`. */
const registryPublishes = (topic: string): boolean => {
  const request = parseDeviceTopic(topic);
  return request !== undefined && own(request.device);
};
/** What the edge asks the registry for a SUBSCRIBE of `me`. */
const registrySubscribes = (filter: string): boolean => subscribeVerdictOf(filter, 0, own) === 0;

describe("topic ACL", () => {
  it("lets a device publish and subscribe under its own $sys/{pid}/{dn}/ only", () => {
    assert.ok(registryPublishes("$sys/p1/d1/image/update"));
    assert.ok(registrySubscribes("$sys/p1/d1/image/update/accepted"));
    assert.ok(registrySubscribes("$sys/p1/d1/image/#"));
    assert.ok(!registryPublishes("$sys/p1/d2/image/update"));
    assert.ok(!registryPublishes("$sys/p2/d1/image/update"));
    assert.ok(!registryPublishes("$sys/p1/d1"));
    assert.ok(!registrySubscribes("$sys/p1/+/image/update/accepted"));
    assert.ok(!registrySubscribes("$sys/#"));
    assert.ok(!registrySubscribes("#"));
    // A longer device name sharing the prefix is another device.
    assert.ok(!registryPublishes("$sys/p1/d10/image/update"));
  });
});

describe("OneNET topics", () => {
  it("builds and parses $sys/{pid}/{dn}/{suffix}", () => {
    const topic = oneNetTopic(me, ONENET_IMAGE.updateAccepted);
    assert.equal(topic, "$sys/p1/d1/image/update/accepted");
    assert.deepEqual(parseOneNetTopic(topic), { device: me, suffix: "image/update/accepted" });
    assert.equal(parseOneNetTopic("$sys/p1/d1/"), undefined);
    assert.equal(parseOneNetTopic("/sys/p1/d1/x"), undefined);
    assert.equal(oneNetRequestOf("image/update"), "update");
    assert.equal(oneNetRequestOf("image/get"), "get");
    assert.equal(oneNetRequestOf("image/update/accepted"), undefined);
  });

  it("refuses names that would break topics or keys", () => {
    for (const bad of ["", "a/b", "a+b", "a#", "a b", "x".repeat(65), "{d}", "a|b"])
      assert.notEqual(nameProblem("device name", bad), undefined, bad);
    for (const good of ["d1", "sensor-01", "dev.1", "设备一", "a_b:c@d"])
      assert.equal(nameProblem("device name", good), undefined, good);
    assert.deepEqual(parseDeviceKey("p/d"), { productId: "p", deviceName: "d" });
    assert.equal(parseDeviceKey("p/d/x"), undefined);
  });
});

/** Reference model: MQTT matching written as a regular expression. */
const modelMatches = (filter: string, topic: string): boolean => {
  if ((filter.startsWith("+") || filter.startsWith("#")) && topic.startsWith("$")) return false;
  const levels = filter.split("/");
  let source = "";
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level === "#") {
      source += i === 0 ? ".*" : "(/.*)?";
      break;
    }
    source +=
      (i === 0 ? "" : "/") +
      (level === "+" ? "[^/]*" : level.replace(/[$.*?^()[\]{}|\\]/g, "\\$&"));
  }
  return new RegExp(`^${source}$`).test(topic);
};

describe("topic filter matching", () => {
  it("agrees with a regular-expression model of MQTT matching", () => {
    const level = fc.constantFrom("a", "b", "", "$sys", "x1");
    const topic = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join("/"));
    const filter = fc
      .tuple(
        fc.array(fc.oneof(level, fc.constant("+")), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
      )
      .map(([l, hash]) => (hash ? [...l, "#"] : l).join("/"));
    fc.assert(
      fc.property(filter, topic, (f, t) => topicMatches(f, t) === modelMatches(f, t)),
      { numRuns: 2000 },
    );
    assert.ok(topicMatches("$sys/p1/d1/image/#", "$sys/p1/d1/image"));
    assert.ok(!topicMatches("#", "$sys/p1"));
  });
});

describe("the registry's ACL for OneNET topics", () => {
  // The edge asks the registry; it must grant exactly what the prefix ACL granted.
  const same = own;
  const level = fc.constantFrom("$sys", "p1", "p2", "d1", "d10", "image", "update", "+", "#", "");
  const path = fc.array(level, { minLength: 1, maxLength: 6 }).map((l) => l.join("/"));

  it("grants a SUBSCRIBE filter exactly when the $sys prefix ACL does", () => {
    fc.assert(
      fc.property(path, (filter) => {
        const verdict = subscribeVerdictOf(filter, 1, same);
        assert.equal(verdict === 0, maySubscribe(me, filter), filter);
      }),
      { numRuns: 3000 },
    );
  });

  it("lets a PUBLISH through exactly when the $sys prefix ACL does", () => {
    fc.assert(
      fc.property(path, (topic) => {
        if (topic.includes("+") || topic.includes("#")) return; // not a topic name
        const request = parseDeviceTopic(topic);
        assert.equal(request !== undefined && same(request.device), mayPublish(me, topic), topic);
      }),
      { numRuns: 3000 },
    );
  });
});

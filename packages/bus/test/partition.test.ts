import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALL_APP,
  appSubject,
  commandSubject,
  deviceSubject,
  edgeSubject,
  fnv1a32,
  parsePartitionSet,
  partitionOf,
  subjectToken,
} from "../src/index.js";

describe("partitions", () => {
  it("hash with FNV-1a 32 like NATS subject mapping does (published test vectors)", () => {
    assert.equal(fnv1a32(""), 0x811c9dc5);
    assert.equal(fnv1a32("a"), 0xe40c292c);
    assert.equal(fnv1a32("foobar"), 0xbf9cf968);
    // Non-ASCII is hashed as UTF-8 bytes.
    assert.equal(fnv1a32("é"), fnv1a32ByBytes(Buffer.from("é")));
  });

  it("put a device in the same partition every time, within 0..P-1", () => {
    for (const key of ["p/d1", "p/d2", "产品/设备"]) {
      const p = partitionOf(key, 1024);
      assert.equal(partitionOf(key, 1024), p);
      assert.ok(p >= 0 && p < 1024);
    }
  });

  it("spread 10,000 devices over 1024 partitions without an empty or crowded one", () => {
    const counts = new Array<number>(1024).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const p = partitionOf(`prod/device-${i}`, 1024);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    assert.ok(Math.max(...counts) < 30, `max ${Math.max(...counts)}`);
    assert.ok(counts.filter((c) => c === 0).length < 20);
  });

  it("read partition sets and refuse bad ones with a reason", () => {
    assert.deepEqual(parsePartitionSet("0-3,7", 8), { ok: true, value: [0, 1, 2, 3, 7] });
    assert.equal((parsePartitionSet("all", 16) as { value: number[] }).value.length, 16);
    for (const bad of ["8", "3-1", "x", "1,,2"])
      assert.equal(parsePartitionSet(bad, 8).ok, false, bad);
  });
});

describe("subjects", () => {
  it("are built from safe tokens; other names are encoded so they cannot collide", () => {
    assert.equal(commandSubject(12), "umbra.cmd.12");
    assert.equal(deviceSubject("p1", "d-1"), "umbra.dev.p1.d-1");
    assert.equal(edgeSubject("edge_1"), "umbra.edge.edge_1");
    assert.equal(appSubject("p1"), "umbra.app.p1");
    assert.equal(appSubject("a.b"), `umbra.app.${subjectToken("a.b")}`);
    assert.ok(appSubject("设备").startsWith(ALL_APP.slice(0, -1)));
    const dotted = subjectToken("a.b");
    assert.match(dotted, /^~[A-Za-z0-9_-]+$/);
    assert.notEqual(subjectToken("a.b"), subjectToken("a*b"));
    for (const name of ["a.b", "*", ">", "x y", "设备"])
      assert.doesNotMatch(subjectToken(name), /[.*> ]/);
  });
});

const fnv1a32ByBytes = (bytes: Uint8Array): number => {
  let hash = 0x811c9dc5;
  for (const b of bytes) hash = Math.imul(hash ^ b, 0x01000193);
  return hash >>> 0;
};

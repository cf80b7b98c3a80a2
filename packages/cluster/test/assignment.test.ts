import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { assignOwners, partitionsOf } from "../src/index.js";

const memberIds = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), {
  minLength: 1,
  maxLength: 6,
});

describe("partition assignment (rendezvous hashing)", () => {
  it("gives every partition exactly one live owner, the same whatever the list's order", () => {
    fc.assert(
      fc.property(memberIds, fc.integer({ min: 1, max: 300 }), (members, p) => {
        const owners = assignOwners(members, p);
        assert.equal(owners.length, p);
        for (const owner of owners) assert.ok(owner !== undefined && members.includes(owner));
        assert.deepEqual(assignOwners([...members].reverse(), p), owners);
      }),
    );
  });

  it("moves only the partitions of a member that leaves", () => {
    fc.assert(
      fc.property(memberIds, fc.nat(5), (members, pick) => {
        fc.pre(members.length >= 2);
        const leaving = members[pick % members.length] as string;
        const before = assignOwners(members, 256);
        const after = assignOwners(
          members.filter((m) => m !== leaving),
          256,
        );
        for (let p = 0; p < 256; p++)
          if (before[p] !== leaving) assert.equal(after[p], before[p], `partition ${p} moved`);
      }),
    );
  });

  it("gives a member that joins only partitions it takes for itself", () => {
    fc.assert(
      fc.property(memberIds, fc.string({ minLength: 1, maxLength: 12 }), (members, joining) => {
        fc.pre(!members.includes(joining));
        const before = assignOwners(members, 256);
        const after = assignOwners([...members, joining], 256);
        for (let p = 0; p < 256; p++)
          if (after[p] !== joining) assert.equal(after[p], before[p], `partition ${p} moved`);
      }),
    );
  });

  it("spreads 1024 partitions evenly enough over three shards", () => {
    const counts = ["shard-a", "shard-b", "shard-c"].map(
      (m) => partitionsOf(m, ["shard-a", "shard-b", "shard-c"], 1024).length,
    );
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      1024,
    );
    for (const count of counts) assert.ok(count > 250 && count < 440, `uneven: ${counts}`);
  });

  it("has no owner when nobody is live, and counts a member not yet listed", () => {
    assert.deepEqual(assignOwners([], 3), [undefined, undefined, undefined]);
    assert.equal(partitionsOf("solo", [], 16).length, 16);
  });
});

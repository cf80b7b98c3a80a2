import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { LimitedLog } from "../src/log-limit.js";

/** A pino logger writing its lines into an array. */
const capture = () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info", base: null },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
};

describe("LimitedLog", () => {
  it("writes the first N lines of a message per interval, then one line with the suppressed count", () => {
    const { logger, lines } = capture();
    let now = 1_000;
    const log = new LimitedLog(logger, { perInterval: 3, intervalMs: 10_000, now: () => now });
    for (let i = 0; i < 1_000; i++) log.warn({ i }, "unreadable ack dropped");
    assert.equal(lines.length, 3);
    assert.deepEqual(
      lines.map((l) => l.i),
      [0, 1, 2],
    );
    now += 9_999;
    log.warn({ i: 1_000 }, "unreadable ack dropped");
    assert.equal(lines.length, 3, "still the same interval");
    now += 1;
    log.warn({ i: 1_001 }, "unreadable ack dropped");
    assert.equal(lines.length, 4);
    assert.equal(lines[3]?.suppressed, 998);
    assert.equal(lines[3]?.msg, "unreadable ack dropped");
    assert.equal(lines[3]?.level, 40);
    // The new interval's allowance: 2 more plain lines, then quiet again.
    for (let i = 0; i < 10; i++) log.warn({}, "unreadable ack dropped");
    assert.equal(lines.length, 6);
    assert.equal(lines[5]?.suppressed, undefined);
  });

  it("limits each message on its own, at error level too", () => {
    const { logger, lines } = capture();
    const log = new LimitedLog(logger, { perInterval: 1, now: () => 0 });
    for (let i = 0; i < 5; i++) {
      log.warn({}, "a");
      log.error({}, "b");
    }
    assert.deepEqual(
      lines.map((l) => [l.msg, l.level]),
      [
        ["a", 40],
        ["b", 50],
      ],
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Correlated, Correlator } from "../src/index.js";

interface Entry extends Correlated {
  sentAt: number;
  resendAt: number;
  readonly name: string;
}

const entry = (name: string): Entry => ({ sentAt: 0, resendAt: 0, name });

/** A correlator on a hand-driven clock, recording what it resends and expires. */
const setup = (options: { resendAfterMs?: number; maxPending?: number } = {}) => {
  const clock = { now: 1_000 };
  const resent: string[] = [];
  const expired: [string, number][] = [];
  const correlator = new Correlator<Entry>({
    deadlineMs: 100,
    resendAfterMs: options.resendAfterMs,
    maxPending: options.maxPending ?? 10,
    sweepMs: 60_000,
    now: () => clock.now,
    resend: (_, e) => resent.push(e.name),
    expired: (_, e, waited) => expired.push([e.name, waited]),
  });
  return { clock, resent, expired, correlator };
};

describe("correlator", () => {
  it("settles a request by its id once; an unknown or settled id settles nothing", () => {
    const { correlator } = setup();
    const id = correlator.nextId();
    assert.ok(correlator.add(id, entry("a")));
    assert.equal(correlator.settle(id + 1), undefined);
    assert.equal(correlator.settle(id)?.name, "a");
    assert.equal(correlator.settle(id), undefined);
    assert.equal(correlator.size, 0);
  });

  it("holds maxPending requests: at the bound it takes one, past it refuses it", () => {
    const { correlator } = setup({ maxPending: 3 });
    for (let i = 0; i < 3; i++) assert.ok(correlator.add(i, entry(`e${i}`)), `entry ${i}`);
    assert.equal(correlator.size, 3);
    assert.equal(correlator.add(3, entry("past")), false);
    assert.equal(correlator.get(3), undefined, "a refused request is not held");
    correlator.settle(0);
    assert.ok(correlator.add(3, entry("after")));
    correlator.giveUpAll(() => undefined);
  });

  it("resends every resendAfterMs while unanswered and expires at the deadline", () => {
    const { clock, correlator, resent, expired } = setup({ resendAfterMs: 30 });
    correlator.add(1, entry("a"));
    clock.now += 29;
    correlator.sweep();
    assert.deepEqual(resent, []);
    clock.now += 1;
    correlator.sweep();
    assert.deepEqual(resent, ["a"]);
    clock.now += 29;
    correlator.sweep();
    assert.deepEqual(resent, ["a"], "due again 30 ms after the resend, not before");
    clock.now += 1;
    correlator.sweep();
    assert.deepEqual(resent, ["a", "a"]);
    clock.now += 40;
    correlator.sweep();
    assert.deepEqual(expired, [["a", 100]]);
    assert.equal(correlator.size, 0);
  });

  it("without resendAfterMs resends only what resendAt asks, even behind a younger request", () => {
    const { clock, correlator, resent } = setup();
    correlator.add(1, entry("first"));
    correlator.add(2, entry("second"));
    correlator.resendAt(2, clock.now + 10);
    clock.now += 10;
    correlator.sweep();
    assert.deepEqual(resent, ["second"], "the walk did not stop at the first, young one");
    clock.now += 50;
    correlator.sweep();
    assert.deepEqual(resent, ["second"], "once");
    correlator.giveUpAll(() => undefined);
  });

  it("gives up every request at once, telling each", () => {
    const { correlator } = setup();
    correlator.add(1, entry("a"));
    correlator.add(2, entry("b"));
    const told: string[] = [];
    correlator.giveUpAll((_, e) => told.push(e.name));
    assert.deepEqual(told, ["a", "b"]);
    assert.equal(correlator.size, 0);
  });

  it("makes ids within its space, wrapping around", () => {
    const correlator = new Correlator<Entry>({
      deadlineMs: 100,
      maxPending: 1,
      sweepMs: 1_000,
      idSpace: 3,
      idBase: 10,
      resend: () => undefined,
      expired: () => undefined,
    });
    const ids = Array.from({ length: 6 }, () => correlator.nextId());
    for (const id of ids) assert.ok(id >= 10 && id < 13, String(id));
    assert.equal(new Set(ids).size, 3);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Packet } from "mqtt-packet";
import { AuthThrottle, FailureTable } from "../src/authThrottle.js";
import { ConnectReturnCode, edgeMetrics, Reason } from "../src/index.js";
import { RawClient, startEdge, versionName } from "./helpers.js";

const WINDOW = 60_000;

describe("FailureTable", () => {
  it("counts failures per key within the window, and forgets them after it", () => {
    const table = new FailureTable(10, WINDOW);
    table.record("a", 0);
    table.record("a", 1_000);
    assert.equal(table.failures("a", 59_999), 2);
    assert.equal(table.failures("a", 60_000), 0);
    assert.equal(table.size, 0);
    table.record("a", 60_000);
    assert.equal(table.failures("a", 60_001), 1);
  });

  it("holds at most its capacity: at the bound every key stays, past it the oldest goes", () => {
    const table = new FailureTable(2, WINDOW);
    table.record("a", 0);
    table.record("b", 1);
    assert.equal(table.size, 2);
    assert.equal(table.failures("a", 2), 1);
    assert.equal(table.failures("b", 2), 1);
    table.record("c", 3);
    assert.equal(table.size, 2);
    assert.equal(table.failures("a", 4), 0);
    assert.equal(table.failures("b", 4), 1);
    assert.equal(table.failures("c", 4), 1);
  });
});

describe("AuthThrottle", () => {
  const throttle = (limit: number, clock: { now: number }) =>
    new AuthThrottle({
      limit,
      windowMs: WINDOW,
      delayMs: 500,
      tableSize: 100,
      now: () => clock.now,
    });

  it("blocks an address at the limit and delays a client id past it", () => {
    const clock = { now: 0 };
    const t = throttle(3, clock);
    assert.equal(t.failed("d1", "10.0.0.1"), 0);
    assert.equal(t.failed("d1", "10.0.0.1"), 0);
    assert.equal(t.addressBlocked("10.0.0.1"), false);
    assert.equal(t.failed("d1", "10.0.0.1"), 0); // the third: still answered at once
    assert.equal(t.addressBlocked("10.0.0.1"), true);
    assert.equal(t.addressBlocked("10.0.0.2"), false);
    assert.equal(t.failed("d1", "10.0.0.2"), 500); // the fourth for d1: late
    assert.equal(t.failed("d2", "10.0.0.3"), 0);
    clock.now = WINDOW;
    assert.equal(t.addressBlocked("10.0.0.1"), false);
    assert.equal(t.failed("d1", "10.0.0.2"), 0);
  });

  it("does nothing with a limit of 0", () => {
    const clock = { now: 0 };
    const t = throttle(0, clock);
    for (let i = 0; i < 20; i++) assert.equal(t.failed("d1", "10.0.0.1"), 0);
    assert.equal(t.addressBlocked("10.0.0.1"), false);
  });

  it("keeps long client ids to a bounded key", () => {
    const clock = { now: 0 };
    const t = throttle(1, clock);
    t.failed(`${"x".repeat(128)}a`, "10.0.0.1");
    assert.equal(t.failed(`${"x".repeat(128)}b`, "10.0.0.2"), 500);
  });
});

const codeOf = (packets: Packet[], version: 4 | 5): number | undefined => {
  const [connack] = packets;
  assert.equal(connack?.cmd, "connack");
  if (connack?.cmd !== "connack") return undefined;
  return version === 5 ? connack.reasonCode : connack.returnCode;
};

/** One CONNECT of device d1 with `password` from `address`; what the edge answered. */
const attempt = async (
  t: Parameters<typeof startEdge>[0],
  edge: Awaited<ReturnType<typeof startEdge>>,
  address: string,
  password: string,
  version: 4 | 5 = 5,
  clientId = "d1",
): Promise<number | undefined> => {
  const client = await RawClient.open(t, edge, version, address);
  client.send(client.connectPacket(clientId, { password: Buffer.from(password) }));
  if (password === "secret") {
    const connack = await client.next();
    client.socket.destroy();
    return codeOf([connack], version);
  }
  return codeOf(await client.closedAfter(), version);
};

describe("failed authentication", () => {
  const metrics = edgeMetrics();

  for (const version of [4, 5] as const) {
    const refusedCode =
      version === 5 ? Reason.connectionRateExceeded : ConnectReturnCode.notAuthorized;
    const shown = version === 5 ? "0x9f" : "return code 5";
    it(`refuses an address at once past the limit of failures with ${shown} (${versionName(version)})`, async (t) => {
      const edge = await startEdge(t, { authFailureLimit: 3 });
      const wrong =
        version === 5 ? Reason.badUserNameOrPassword : ConnectReturnCode.badUserNameOrPassword;
      for (let i = 0; i < 3; i++)
        assert.equal(await attempt(t, edge, "127.0.0.2", "nope", version), wrong);
      const before = metrics.authThrottledAddress.value;
      // Past the limit the registry is not asked, even for the right password.
      assert.equal(await attempt(t, edge, "127.0.0.2", "nope", version, "d2"), refusedCode);
      assert.equal(await attempt(t, edge, "127.0.0.2", "secret", version, "d3"), refusedCode);
      assert.equal(edge.backend.authenticateCalls, 3);
      assert.equal(metrics.authThrottledAddress.value - before, 2);
      // The device itself, from another address, connects at once.
      assert.equal(await attempt(t, edge, "127.0.0.3", "secret", version), 0);
    });
  }

  it("answers a client id's failures late past the limit, and still lets its device in", async (t) => {
    // A delay far past the connect timeout: the late refusal is overtaken by the connect
    // timeout's "server unavailable", which shows the failure was not answered at once.
    const edge = await startEdge(t, {
      authFailureLimit: 2,
      authFailureDelayMs: 600_000,
      connectTimeoutMs: 300,
    });
    assert.equal(await attempt(t, edge, "127.0.0.4", "nope"), Reason.badUserNameOrPassword);
    assert.equal(await attempt(t, edge, "127.0.0.5", "nope"), Reason.badUserNameOrPassword);
    const before = metrics.authDelayedClientId.value;
    assert.equal(await attempt(t, edge, "127.0.0.6", "nope"), Reason.serverUnavailable);
    assert.equal(metrics.authDelayedClientId.value - before, 1);
    assert.equal(await attempt(t, edge, "127.0.0.7", "secret"), 0);
    // Another client id is answered at once.
    assert.equal(
      await attempt(t, edge, "127.0.0.8", "nope", 5, "d2"),
      Reason.badUserNameOrPassword,
    );
  });

  it("remembers at most authFailureTableSize addresses: past it the oldest is forgotten", async (t) => {
    const edge = await startEdge(t, { authFailureLimit: 1, authFailureTableSize: 2 });
    const wrong = Reason.badUserNameOrPassword;
    const throttled = Reason.connectionRateExceeded;
    assert.equal(await attempt(t, edge, "127.0.0.9", "nope", 5, "a"), wrong);
    assert.equal(await attempt(t, edge, "127.0.0.10", "nope", 5, "b"), wrong);
    // At the bound both are remembered.
    assert.equal(await attempt(t, edge, "127.0.0.9", "nope", 5, "c"), throttled);
    assert.equal(await attempt(t, edge, "127.0.0.10", "nope", 5, "c"), throttled);
    assert.equal(await attempt(t, edge, "127.0.0.11", "nope", 5, "d"), wrong);
    // Past it 127.0.0.9, the oldest, is forgotten and asked about again.
    const calls = edge.backend.authenticateCalls;
    assert.equal(await attempt(t, edge, "127.0.0.9", "nope", 5, "e"), wrong);
    assert.equal(edge.backend.authenticateCalls, calls + 1);
  });
});

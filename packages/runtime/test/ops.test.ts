import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { Effect, Exit, Scope } from "effect";
import { createLogger } from "../src/logger.js";
import { counterFamily, gaugeFamily, histogramFamily } from "../src/metrics.js";
import { OpsHub, type OpsTimeouts, opsServer, type ReadyReport } from "../src/ops.js";

const logger = createLogger("ops-test", "silent");

/** Runs `use` against an ops listener of `hub` on a free port, then closes it. */
const withListener = async (
  hub: OpsHub,
  use: (base: string, port: number) => Promise<void>,
  timeouts?: OpsTimeouts,
): Promise<void> => {
  const scope = Effect.runSync(Scope.make());
  try {
    const port = await Effect.runPromise(
      Scope.provide(scope)(opsServer(0, "127.0.0.1", hub, logger, timeouts)),
    );
    await use(`http://127.0.0.1:${port}`, port);
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void));
  }
};

describe("ops listener", () => {
  it("answers /metrics in the Prometheus text format with the process's families", async () => {
    const cell = counterFamily("umbra_test_things_total", "Things counted by the test.", [
      "kind",
    ]).cell({ kind: "a" });
    cell.value += 3;
    histogramFamily("umbra_test_seconds", "Test durations.", ["op"], [0.1, 1])
      .series({ op: "x" })
      .observe(0.5);
    gaugeFamily("umbra_test_open", "Open test things.").source(() => 7);
    await withListener(new OpsHub(), async (base) => {
      const answer = await fetch(`${base}/metrics`);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = await answer.text();
      assert.match(text, /^# TYPE umbra_test_things_total counter$/m);
      assert.match(text, /^umbra_test_things_total\{kind="a"\} 3$/m);
      assert.match(text, /^umbra_test_seconds_bucket\{op="x",le="0\.1"\} 0$/m);
      assert.match(text, /^umbra_test_seconds_bucket\{op="x",le="1"\} 1$/m);
      assert.match(text, /^umbra_test_seconds_bucket\{op="x",le="\+Inf"\} 1$/m);
      assert.match(text, /^umbra_test_seconds_sum\{op="x"\} 0\.5$/m);
      assert.match(text, /^umbra_test_seconds_count\{op="x"\} 1$/m);
      assert.match(text, /^umbra_test_open 7$/m);
      // Node's default metrics come with the registry.
      assert.match(text, /^process_cpu_seconds_total /m);
    });
  });

  it("is ready only when every service is, and serves their own routes as JSON", async () => {
    const hub = new OpsHub();
    let shardReady = false;
    hub.add({ service: "shard", readiness: () => ({ ready: shardReady }) });
    hub.add({
      service: "edge",
      readiness: async (): Promise<ReadyReport> => ({ ready: true, sessions: 0 }),
      routes: { "/cluster": () => ({ status: 200, body: { members: [] } }) },
    });
    await withListener(hub, async (base) => {
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const waiting = await fetch(`${base}/readyz`);
      assert.equal(waiting.status, 503);
      assert.deepEqual(await waiting.json(), {
        ready: false,
        services: { shard: { ready: false }, edge: { ready: true, sessions: 0 } },
      });
      shardReady = true;
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const cluster = await fetch(`${base}/cluster`);
      assert.equal(cluster.headers.get("content-type"), "application/json");
      assert.deepEqual(await cluster.json(), { members: [] });
      assert.equal((await fetch(`${base}/nothing`)).status, 404);
    });
  });

  it("is not ready with no service in it, nor when a check throws", async () => {
    const hub = new OpsHub();
    await withListener(hub, async (base) => {
      assert.equal((await fetch(`${base}/readyz`)).status, 503);
      hub.add({
        service: "reply",
        readiness: () => {
          throw new Error("no NATS");
        },
      });
      const answer = await fetch(`${base}/readyz`);
      assert.equal(answer.status, 503);
      assert.deepEqual(await answer.json(), {
        ready: false,
        services: { reply: { ready: false, error: "no NATS" } },
      });
    });
  });

  it("closes a client that dribbles its request headers once the headers deadline passes", async () => {
    await withListener(
      new OpsHub(),
      async (_base, port) => {
        const socket = connect(port, "127.0.0.1");
        socket.on("error", () => {});
        socket.setNoDelay(true);
        const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
        socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
        // One header byte every 100 ms, for up to 20 s: never a complete request.
        let sent = 0;
        const drip = setInterval(() => {
          if (sent++ < 200 && !socket.destroyed) socket.write("X");
        }, 100);
        let deadline: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          closed.then(() => "closed"),
          new Promise<string>((resolve) => {
            deadline = setTimeout(() => resolve("still open"), 20_000);
          }),
        ]);
        clearTimeout(deadline);
        clearInterval(drip);
        socket.destroy();
        assert.equal(outcome, "closed");
      },
      { headersMs: 500, requestMs: 1_000 },
    );
  });
});

/**
 * The CI short form of the load harness: the `ci` scenario against a cluster (2 edges,
 * 2 shards, reply, api, NATS, Redis) in containers or as local processes, whichever this
 * machine runs, and the harness's own parts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { dockerAvailable, REPO_ROOT } from "../src/harness.js";
import { ApiClient } from "./api-client.js";
import { isCloudWrite } from "./fleet.js";
import { sampleSum } from "./metrics.js";
import { progressReporter } from "./progress.js";
import { renderTable } from "./report.js";
import { renderHtml } from "./report-html.js";
import { runLoad } from "./run.js";
import { loadScenario, parseScenario, ScenarioError } from "./scenario.js";
import { percentilesOf } from "./stats.js";

const scenarioFile = (name: string) => join(REPO_ROOT, "test", "load", "scenarios", `${name}.json`);

describe("load scenarios", () => {
  it("reads every scenario shipped in test/load/scenarios", () => {
    const names = readdirSync(join(REPO_ROOT, "test", "load", "scenarios"))
      .filter((file) => file.endsWith(".json"))
      .map((file) => file.slice(0, -".json".length));
    assert.ok(names.includes("ci") && names.includes("10k-5min"), names.join());
    for (const name of names) assert.equal(loadScenario(scenarioFile(name)).name, name);
  });

  it("fills in defaults and refuses what is wrong, naming the field", () => {
    const s = parseScenario({ devices: 10, updateRate: 1, durationSeconds: 5 }, "mine");
    assert.equal(s.name, "mine");
    assert.equal(s.qos, 0);
    assert.equal(s.cloudShare, 0);
    assert.throws(
      () => parseScenario({ devices: 10, durationSeconds: 5 }),
      /'updateRate' is required/,
    );
    assert.throws(
      () => parseScenario({ devices: 1.5, updateRate: 1, durationSeconds: 5 }),
      /'devices' must be an integer in \[1, 100000\], not 1.5/,
    );
    assert.throws(
      () => parseScenario({ devices: 1, updateRate: 1, durationSeconds: 5, cloudshare: 0.5 }),
      /unknown field 'cloudshare'/,
    );
    assert.throws(
      () => parseScenario({ devices: 1, updateRate: 1, durationSeconds: 5, qos: 2 }),
      /'qos' must be 0 or 1/,
    );
  });

  it("names the file of a scenario that is not JSON", () => {
    const dir = mkdtempSync(join(tmpdir(), "umbra-load-"));
    try {
      writeFileSync(join(dir, "bad.json"), "{ devices: 1 }");
      assert.throws(
        () => loadScenario(join(dir, "bad.json")),
        (error: unknown) => {
          assert.ok(error instanceof ScenarioError);
          assert.match(error.message, /bad\.json is not JSON/);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("load harness parts", () => {
  it("makes exactly the cloud share of a device's writes cloud writes, spread out", () => {
    for (const share of [0, 0.1, 0.2, 0.25, 1 / 3, 1]) {
      const cloud = Array.from({ length: 300 }, (_, k) => isCloudWrite(k, share));
      assert.equal(cloud.filter(Boolean).length, Math.round(300 * share), `share ${share}`);
    }
    assert.deepEqual(
      Array.from({ length: 10 }, (_, k) => isCloudWrite(k, 0.2)),
      [false, false, false, false, true, false, false, false, false, true],
    );
  });

  it("sums a counter over its label sets, and says when it is absent", () => {
    const text = [
      "# TYPE umbra_shard_cas_conflicts_total counter",
      "umbra_shard_cas_conflicts_total 3",
      'umbra_shard_cas_retries_total{op="update"} 2',
      'umbra_shard_cas_retries_total{op="twin"} 5',
      "umbra_shard_cas_conflicts_total_extra 100",
    ].join("\n");
    assert.equal(sampleSum(text, "umbra_shard_cas_conflicts_total"), 3);
    assert.equal(sampleSum(text, "umbra_shard_cas_retries_total"), 7);
    assert.equal(sampleSum(text, "umbra_shard_actors"), undefined);
  });

  it("sends a request again when its kept-alive connection was reset under it", async () => {
    // The server drops the connection when a second request arrives on it, as a server
    // closing an idle connection does when a request crosses its FIN.
    const served: string[] = [];
    const server = createServer((req, res) => {
      const reused = (req.socket as { served?: number }).served ?? 0;
      (req.socket as { served?: number }).served = reused + 1;
      if (reused > 0) {
        req.socket.destroy();
        return;
      }
      served.push(req.url ?? "");
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      assert.deepEqual(await client.call("GET", "/first"), { status: 200, body: "ok" });
      assert.deepEqual(await client.call("GET", "/second"), { status: 200, body: "ok" });
      assert.deepEqual(served, ["/first", "/second"]);
    } finally {
      client.close();
      server.close();
    }
  });

  it("takes nearest-rank percentiles", () => {
    const p = percentilesOf(Array.from({ length: 100 }, (_, i) => 100 - i));
    assert.deepEqual(p, { p50: 50, p95: 95, p99: 99, max: 100 });
    assert.ok(Number.isNaN(percentilesOf([]).p50));
  });
});

describe("the ci load scenario, in the cluster this machine runs", () => {
  it("runs with no lost update or error and writes a report with both charts", {
    timeout: 90_000,
  }, async () => {
    const scenario = loadScenario(scenarioFile("ci"));
    const lines: string[] = [];
    const report = await runLoad(scenario, {
      progress: progressReporter({ write: (text) => lines.push(text) }),
    });
    const table = renderTable(report);
    // Containers where a Docker engine answers, local processes otherwise (cluster.ts).
    assert.equal(report.runtime, (await dockerAvailable()) ? "containers" : "local");
    assert.equal(report.errors.total, 0, `${table}\n${report.problems.join("\n")}`);
    assert.equal(report.ok, true, table);
    assert.equal(report.connected, scenario.devices);
    assert.equal(report.shadowsChecked, scenario.devices);
    // Both kinds of write went through, and were answered in the window.
    assert.ok(report.device.answered > 0 && report.cloud.answered > 0, table);
    assert.ok(report.sent.cloud > 0 && report.sent.device > report.sent.cloud, table);
    assert.ok(Number.isFinite(report.all.latencyMs.p99), table);
    // The progress went out as plain lines (no terminal here), through every phase.
    for (const phase of ["registering", "connecting", "measuring", "draining"])
      assert.ok(
        lines.some((l) => l.includes(phase)),
        `no progress line for ${phase}`,
      );

    const html = renderHtml(report);
    const dir = mkdtempSync(join(tmpdir(), "umbra-load-"));
    try {
      writeFileSync(join(dir, "report.html"), html);
      const written = readFileSync(join(dir, "report.html"), "utf8");
      for (const id of ["throughput", "latency"]) {
        const chart = new RegExp(`<svg id="${id}"[^]*?</svg>`).exec(written)?.[0];
        assert.ok(chart !== undefined, `no ${id} chart`);
        assert.match(
          chart,
          /<polyline [^>]*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+/,
          `${id} chart has no line`,
        );
      }
      // Self-contained: nothing is loaded from elsewhere.
      assert.doesNotMatch(written, /<script|<link|src="|url\(/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

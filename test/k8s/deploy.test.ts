import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/**
 * deploy/: the compose cluster has the shape the issue asks for, and the Grafana
 * dashboard charts every metric of the contract, with no name that does not exist.
 * (No Docker engine here: `docker compose config` cannot run; this reads the file.)
 */

const DEPLOY = fileURLToPath(new URL("../../../deploy/", import.meta.url));

/** The metrics every service exports (docs/OPERATIONS.md, "What to watch"). */
const METRICS = [
  "umbra_edge_connections",
  "umbra_edge_connects_total",
  "umbra_edge_messages_in_total",
  "umbra_edge_messages_out_total",
  "umbra_edge_dropped_total",
  "umbra_edge_command_timeouts_total",
  "umbra_shard_command_duration_seconds",
  "umbra_shard_commands_total",
  "umbra_shard_cas_conflicts_total",
  "umbra_shard_cas_retries_total",
  "umbra_shard_actors",
  "umbra_shard_passivations_total",
  "umbra_shard_partitions_owned",
  "umbra_shard_handoffs_total",
  "umbra_reply_events_total",
  "umbra_reply_messages_out_total",
  "umbra_api_requests_total",
  "umbra_api_request_duration_seconds",
  "umbra_api_event_streams",
  "umbra_nats_errors_total",
  "umbra_nats_reconnects_total",
  "umbra_redis_errors_total",
  "umbra_redis_reconnects_total",
];

interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: string[];
  readonly environment?: Record<string, string>;
  readonly healthcheck?: { readonly test: string[] };
  readonly profiles?: string[];
  readonly ports?: string[];
}

const compose = (): Record<string, ComposeService> =>
  parse(readFileSync(`${DEPLOY}compose.yaml`, "utf8"), { merge: true }).services;

const named = (services: Record<string, ComposeService>, prefix: string) =>
  Object.entries(services).filter(([name]) => name.startsWith(prefix));

describe("deploy/compose.yaml", () => {
  it("runs 2 edges, 3 shards of distinct ids, reply and api from the Umbra image", () => {
    const services = compose();
    // The image is a variable with the default users get (the compose smoke sets another).
    const umbra = Object.entries(services).filter(
      ([, s]) => s.image === ["$", "{UMBRA_IMAGE:-umbra:dev}"].join(""),
    );
    const commands = umbra.map(([, s]) => s.command?.[0]).sort();
    assert.deepEqual(commands, ["api", "edge", "edge", "reply", "shard", "shard", "shard"]);
    for (const [name, s] of umbra) {
      assert.deepEqual(s.build, { context: "..", dockerfile: "Dockerfile" }, name);
      assert.equal(s.environment?.NATS_URL, "nats://nats:4222", name);
      assert.equal(s.environment?.REDIS_URL, "redis://redis:6379", name);
    }
    const shardIds = named(services, "shard-").map(([, s]) => s.environment?.SHARD_ID);
    assert.equal(new Set(shardIds).size, 3);
  });

  it("a 3-node NATS cluster with JetStream and Redis with append-only persistence", () => {
    const services = compose();
    const nats = named(services, "nats-");
    assert.equal(nats.length, 3);
    for (const [name, s] of nats) {
      const args = s.command?.join(" ") ?? "";
      assert.match(args, /--jetstream/, name);
      assert.match(args, /--cluster_name umbra/, name);
      for (const [other] of nats)
        assert.ok(args.includes(`nats://${other}:6222`), `${name} routes to ${other}`);
    }
    assert.match(services.redis?.command?.join(" ") ?? "", /--appendonly yes/);
  });

  it("publishes MQTT on 1883 and 1884, MQTT over TLS on 8883 and 8884, the API on 8080 unless told otherwise", () => {
    const services = compose();
    const published = (name: string) =>
      (services[name]?.ports ?? []).map((p) => {
        const [, variable, host, container] = /^\$\{(\w+):-(\d+)\}:(\d+)$/.exec(p) ?? [];
        return { variable, host, container };
      });
    assert.deepEqual(published("edge-1"), [
      { variable: "UMBRA_MQTT_PORT", host: "1883", container: "1883" },
      { variable: "UMBRA_MQTTS_PORT", host: "8883", container: "8883" },
    ]);
    assert.deepEqual(published("edge-2"), [
      { variable: "UMBRA_MQTT_PORT_2", host: "1884", container: "1883" },
      { variable: "UMBRA_MQTTS_PORT_2", host: "8884", container: "8883" },
    ]);
    assert.deepEqual(published("api"), [
      { variable: "UMBRA_API_PORT", host: "8080", container: "8080" },
    ]);
  });

  it("every service of the cluster has a healthcheck", () => {
    for (const [name, s] of Object.entries(compose()))
      if (s.profiles === undefined)
        assert.ok(s.healthcheck?.test.length, `${name} has no healthcheck`);
  });

  it("Prometheus scrapes services that exist", () => {
    const services = compose();
    const config = parse(readFileSync(`${DEPLOY}prometheus.yml`, "utf8"));
    const targets: string[] = config.scrape_configs.flatMap(
      (job: { static_configs: { targets: string[] }[] }) =>
        job.static_configs.flatMap((c) => c.targets),
    );
    assert.equal(targets.length, 7);
    for (const target of targets) assert.ok(services[target.split(":")[0] ?? ""], target);
  });
});

describe("deploy/grafana/umbra.json", () => {
  const dashboard = JSON.parse(readFileSync(`${DEPLOY}grafana/umbra.json`, "utf8"));
  const panels: {
    id: number;
    type: string;
    datasource?: { uid: string };
    targets?: { expr: string }[];
  }[] = dashboard.panels;
  const expressions = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it("charts every metric of the contract", () => {
    for (const metric of METRICS)
      assert.ok(
        expressions.some((e) => new RegExp(`\\b${metric}(_bucket)?\\b`).test(e)),
        `${metric} is on no panel`,
      );
  });

  it("names no metric outside the contract", () => {
    const used = expressions.flatMap((e) => e.match(/\bumbra_[a-z_]+/g) ?? []);
    for (const name of used)
      assert.ok(METRICS.includes(name.replace(/_bucket$/, "")), `unknown metric ${name}`);
  });

  // Grafana's variable syntax, not a template literal.
  const DATASOURCE_VARIABLE = ["$", "{datasource}"].join("");

  it("panels have unique ids and use the datasource variable", () => {
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length);
    for (const p of panels)
      if (p.type !== "row") assert.equal(p.datasource?.uid, DATASOURCE_VARIABLE);
  });
});

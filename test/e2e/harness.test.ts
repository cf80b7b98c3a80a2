import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as connectNats } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { connectAsync } from "mqtt";
import { docker as dockerCli } from "../containers/docker-cli.js";
import {
  connectionRefused,
  freePort,
  pollUntil,
  removeOrphanedContainers,
  type Server,
  serverRuntime,
  startMosquitto,
  startNats,
  startRedis,
  startService,
  testContainerLabels,
  UMBRA_MAIN,
  withDeadline,
} from "../src/harness.js";

const HARNESS_URL = new URL("../src/harness.js", import.meta.url).href;

/** Resolves once nothing listens on the port any more. */
const gone = (port: number) =>
  pollUntil(() => connectionRefused(port), { timeoutMs: 10_000, what: `port ${port} closing` });

const redisClient = (server: Server) =>
  new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });

describe("freePort", () => {
  it("gives distinct ports that can be bound", async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    assert.equal(new Set(ports).size, 3);
    for (const port of ports) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", resolve);
      });
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("startNats", () => {
  let nats: Server;
  before(async () => {
    nats = await startNats();
  });
  after(() => nats.stop());

  it("runs on its own port, where a client can publish and subscribe", async () => {
    assert.notEqual(nats.port, 4222);
    assert.equal(nats.url.startsWith("nats://"), true);
    const nc = await connectNats({ servers: nats.url });
    try {
      const sub = nc.subscribe("harness.check", { max: 1 });
      const first = (async () => {
        for await (const msg of sub) return msg.string();
        return undefined;
      })();
      await nc.flush();
      nc.publish("harness.check", "hello");
      assert.equal(await withDeadline(first, 5000, () => "no message"), "hello");
    } finally {
      await nc.close();
    }
  });
});

describe("startRedis", () => {
  let one: Server;
  let two: Server;
  before(async () => {
    [one, two] = await Promise.all([startRedis(), startRedis({ appendOnly: true })]);
  });
  after(() => Promise.all([one.stop(), two.stop()]));

  it("runs on its own port, where SET then GET round-trips", async () => {
    assert.notEqual(one.port, 6379);
    const redis = redisClient(one);
    try {
      assert.equal(await redis.set("harness:key", "value"), "OK");
      assert.equal(await redis.get("harness:key"), "value");
    } finally {
      await redis.quit();
    }
  });

  it("gives two servers two ports and two separate data sets", async () => {
    assert.notEqual(one.port, two.port);
    const a = redisClient(one);
    const b = redisClient(two);
    try {
      await a.set("harness:only-in-one", "1");
      assert.equal(await b.get("harness:only-in-one"), null);
    } finally {
      await Promise.all([a.quit(), b.quit()]);
    }
  });

  it("turns the append-only file on when asked, and only then", async () => {
    const a = redisClient(one);
    const b = redisClient(two);
    try {
      assert.deepEqual(await a.config("GET", "appendonly"), ["appendonly", "no"]);
      assert.deepEqual(await b.config("GET", "appendonly"), ["appendonly", "yes"]);
    } finally {
      await Promise.all([a.quit(), b.quit()]);
    }
  });

  it("restarts on the same port, keeping what the append-only file holds", async () => {
    const before = redisClient(two);
    try {
      await before.set("harness:survives", "yes");
    } finally {
      await before.quit();
    }
    const port = two.port;
    await two.restart();
    assert.equal(two.port, port);
    const after = redisClient(two);
    try {
      assert.equal(await after.get("harness:survives"), "yes");
    } finally {
      await after.quit();
    }
  });
});

describe("startMosquitto", () => {
  let broker: Server;
  before(async () => {
    broker = await startMosquitto();
  });
  after(() => broker.stop());

  it("runs on its own port, where mqtt.js can subscribe and receive what it publishes", async () => {
    assert.notEqual(broker.port, 1883);
    const client = await connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    try {
      const received = new Promise<string>((resolve) =>
        client.on("message", (topic, payload) => {
          if (topic === "harness/check") resolve(payload.toString());
        }),
      );
      await client.subscribeAsync("harness/check", { qos: 1 });
      await client.publishAsync("harness/check", "hello", { qos: 1 });
      assert.equal(await withDeadline(received, 5000, () => "no message"), "hello");
    } finally {
      await client.endAsync();
    }
  });
});

describe("Server.halt, pause and resume", () => {
  it("halts a server: a new connection is refused until restart(), which keeps port and data", async () => {
    const redis = await startRedis({ appendOnly: true });
    try {
      const before = redisClient(redis);
      await before.set("harness:halted", "kept");
      await before.quit();
      await redis.halt();
      assert.equal(await connectionRefused(redis.port), true);
      await redis.restart();
      const after = redisClient(redis);
      try {
        assert.equal(await after.get("harness:halted"), "kept");
      } finally {
        await after.quit();
      }
    } finally {
      await redis.stop();
    }
  });

  it("pauses a server: what is asked gets no answer until resume(), then it does", async () => {
    const redis = await startRedis();
    const client = redisClient(redis);
    try {
      assert.equal(await client.ping(), "PONG");
      await redis.pause();
      const answer = client.ping();
      await assert.rejects(
        withDeadline(answer, 1000, () => "no answer while paused"),
        /no answer/,
      );
      await redis.resume();
      assert.equal(await withDeadline(answer, 10_000, () => "no answer after resume"), "PONG");
    } finally {
      await redis.resume();
      await client.quit();
      await redis.stop();
    }
  });
});

describe("containers a killed test run left behind", async () => {
  const docker = (await serverRuntime()) === "docker";
  it("are removed with their network; a live run's container stays", {
    skip: !docker && "no Docker engine",
  }, async () => {
    // A pid that no longer runs: a child that has exited.
    const dead = spawn(process.execPath, ["-e", ""]);
    const deadPid = dead.pid as number;
    await new Promise((resolve) => dead.once("exit", resolve));
    const labels = (pid: number) =>
      Object.entries({ ...testContainerLabels(), "org.umbra.test.pid": String(pid) }).flatMap(
        ([k, v]) => ["--label", `${k}=${v}`],
      );
    const network = await dockerCli("network", "create", `umbra-orphan-${process.pid}`);
    const orphan = await dockerCli(
      "run",
      "-d",
      "--network",
      network,
      ...labels(deadPid),
      "redis:7",
    );
    const live = await dockerCli("run", "-d", ...labels(process.pid), "redis:7");
    try {
      assert.equal(await removeOrphanedContainers(), 1);
      const left = await dockerCli("ps", "-aq", "--no-trunc", "--filter", "label=org.umbra.test");
      assert.ok(!left.includes(orphan), "the orphan is gone");
      assert.ok(left.includes(live), "the live run's container stays");
      await assert.rejects(dockerCli("network", "inspect", network), /No such network|not found/i);
    } finally {
      await dockerCli("rm", "-f", orphan, live).catch(() => undefined);
      await dockerCli("network", "rm", network).catch(() => undefined);
    }
  });
});

describe("Server.stop", () => {
  it("stops each server: a new connection is refused", async () => {
    const servers = await Promise.all([startNats(), startRedis(), startMosquitto()]);
    for (const server of servers) assert.equal(await connectionRefused(server.port), false);
    await Promise.all(servers.map((server) => server.stop()));
    for (const server of servers) assert.equal(await connectionRefused(server.port), true);
  });
});

describe("processes a test forgets", async () => {
  const local = (await serverRuntime()) === "local";

  /** Starts a node process that starts Redis through the harness and prints its port. */
  const orphaning = async (ending: string) => {
    const code = `import { startRedis } from ${JSON.stringify(HARNESS_URL)};
const redis = await startRedis();
console.log(redis.port);
${ending}`;
    const proc = spawn(process.execPath, ["--input-type=module", "-e", code], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    const port = await withDeadline(
      new Promise<number>((resolve) =>
        proc.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
      ),
      20_000,
      () => "the child never printed its Redis port",
    );
    assert.equal(await connectionRefused(port), false);
    return { proc, port, exited };
  };

  it("are killed when the test process exits", { skip: !local && "containers" }, async () => {
    // It exits when told, so the port is checked while its Redis surely runs.
    const { proc, port, exited } = await orphaning(
      'process.stdin.once("data", () => process.exit(0));',
    );
    proc.stdin.write("exit\n");
    await exited;
    await gone(port);
  });

  it("are killed when the test process gets SIGTERM", {
    skip: !local && "containers",
  }, async () => {
    const { proc, port, exited } = await orphaning("setInterval(() => {}, 60_000);");
    proc.kill("SIGTERM");
    await exited;
    await gone(port);
  });
});

describe("startService", () => {
  let dir: string;
  const script = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, body);
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "umbra-harness-test-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // A stand-in for `umbra all`: pino-style ready lines, then it runs until SIGTERM. Like a
  // real service, it handles SIGTERM before it says it is ready.
  const fakeAll = () =>
    script(
      "all.mjs",
      `const line = (fields) => console.log(JSON.stringify({ level: 30, time: Date.now(), ...fields }));
const keepAlive = setInterval(() => {}, 60_000);
process.on("SIGTERM", () => { clearInterval(keepAlive); line({ service: "umbra", msg: "stopped" }); });
line({ service: "edge", msg: "listening" });
line({ service: "edge", msg: "ready", mqttPort: 41234, echo: process.env.HARNESS_ECHO });
line({ service: "shard", msg: "ready" });
line({ service: "reply", msg: "ready" });
line({ service: "umbra", msg: "ready", argv: process.argv.slice(2) });`,
    );

  it("resolves on the ready lines, with their JSON, env passed through", async () => {
    const svc = await startService(["all"], { HARNESS_ECHO: "passed" }, { script: fakeAll() });
    try {
      assert.deepEqual(Object.keys(svc.ready).sort(), ["edge", "reply", "shard", "umbra"]);
      assert.equal(svc.ready.edge?.mqttPort, 41234);
      assert.equal(svc.ready.edge?.echo, "passed");
      assert.deepEqual(svc.ready.umbra?.argv, ["all"]);
      assert.match(svc.logs(), /"msg":"listening"/);
      assert.equal((await svc.waitForLog((l) => l.msg === "listening")).service, "edge");
    } finally {
      assert.equal(await svc.stop(), 0);
    }
    assert.match(svc.logs(), /"msg":"stopped"/);
  });

  it("waits for the services named in `ready`", async () => {
    const svc = await startService(["edge"], {}, { script: fakeAll(), ready: ["edge", "shard"] });
    await svc.stop();
    assert.equal(svc.ready.shard?.msg, "ready");
  });

  it("rejects with the output when the process exits before it is ready", async () => {
    const early = script("early.mjs", `console.error("cannot reach NATS"); process.exit(3);`);
    await assert.rejects(startService(["edge"], {}, { script: early }), (error: Error) => {
      assert.match(error.message, /exited with code 3 before it was ready/);
      assert.match(error.message, /waiting for: edge/);
      assert.match(error.message, /\[stderr\] cannot reach NATS/);
      return true;
    });
  });

  it("rejects and kills the process when the deadline passes", async () => {
    const pidFile = join(dir, "stuck.pid");
    const stuck = script(
      "stuck.mjs",
      `import { writeFileSync } from "node:fs";
writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
console.log(JSON.stringify({ service: "edge", msg: "ready" }));
console.log("still connecting");
setInterval(() => {}, 60_000);`,
    );
    await assert.rejects(
      startService(["all"], { LOG_LEVEL: "warn" }, { script: stuck, timeoutMs: 500 }),
      (error: Error) => {
        assert.match(error.message, /not ready within 500 ms \(waiting for: umbra; ready: edge\)/);
        assert.match(error.message, /LOG_LEVEL=warn/);
        assert.match(error.message, /still connecting/);
        return true;
      },
    );
    const pid = Number(readFileSync(pidFile, "utf8"));
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" });
  });

  it("runs the umbra launcher by default", {
    skip: !existsSync(UMBRA_MAIN) && "not built",
  }, async () => {
    await assert.rejects(
      startService(["no-such-service"], {}, { timeoutMs: 10_000 }),
      (error: Error) => {
        assert.match(
          error.message,
          /umbra no-such-service exited with code \d+ before it was ready/,
        );
        return true;
      },
    );
  });
});

/**
 * The compose smoke test: `deploy/compose.yaml` as a user brings it up (the image under
 * test, with Compose v2 and with v1, whichever this machine has), a device registered with the image's own CLI and served through
 * an edge container, every Umbra container non-root on a read-only root filesystem, one
 * shard container stopped and the device still served, then down with its volumes.
 * Host ports are free ones (this machine's own broker holds 1883), passed through the
 * file's port variables.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort, pollUntil, REPO_ROOT, TestDevice } from "../src/harness.js";
import {
  composeCommands,
  docker,
  imageUnderTest,
  inspect,
  SKIP_REASON,
  serviceContainers,
  sh,
} from "./docker-cli.js";

const image = imageUnderTest();
const FILE = join(REPO_ROOT, "deploy", "compose.yaml");
const API_KEY = "local-compose-key-0123456789";
const UMBRA_SERVICES = ["shard-1", "shard-2", "shard-3", "reply", "edge-1", "edge-2", "api"];
const ALL_SERVICES = ["nats-1", "nats-2", "nats-3", "redis", ...UMBRA_SERVICES];
/** Nine containers starting at once on two cores: generous, it is a deadline, not a goal. */
const HEALTHY_WITHIN_MS = 300_000;

const smoke = (compose: readonly string[]) => {
  const PROJECT = `umbra-smoke-${process.pid}-${compose.length === 1 ? "v1" : "v2"}`;
  let env: Record<string, string> = {};
  let mqttPort = 0;
  let apiPort = 0;
  let upMs = 0;

  const composeRun = (args: readonly string[], timeoutMs = 300_000) => {
    const [command, ...base] = compose as [string, ...string[]];
    return sh(command, [...base, "-f", FILE, "-p", PROJECT, ...args], { env, timeoutMs });
  };

  const containerOf = async (service: string): Promise<string> => {
    const [id] = await serviceContainers(PROJECT, service);
    assert.ok(id !== undefined, `no container for ${service}`);
    return id;
  };

  const api = async (path: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    return { status: res.status, body: await res.json() };
  };

  const reportedOf = async (): Promise<Record<string, unknown> | undefined> => {
    const { status, body } = await api("/v1/products/smoke/devices/sensor-1/shadow");
    if (status !== 200) throw new Error(`GET shadow answered ${status}: ${JSON.stringify(body)}`);
    // The canonical document: reported and desired at the top.
    return (body as { reported?: Record<string, unknown> }).reported;
  };

  describe(`the compose cluster (${compose.join(" ")})`, () => {
    before(async () => {
      mqttPort = await freePort();
      apiPort = await freePort();
      env = {
        UMBRA_IMAGE: image as string,
        UMBRA_MQTT_PORT: String(mqttPort),
        UMBRA_MQTTS_PORT: String(await freePort()),
        UMBRA_MQTT_PORT_2: String(await freePort()),
        UMBRA_MQTTS_PORT_2: String(await freePort()),
        UMBRA_API_PORT: String(apiPort),
      };
      const started = performance.now();
      // No --build: the image under test is the one CI built; --wait is v2 only, so the
      // health of every service is polled below.
      await composeRun(["up", "-d", "--no-build"], HEALTHY_WITHIN_MS);
      await pollUntil(
        async () => {
          for (const service of ALL_SERVICES) {
            const ids = await serviceContainers(PROJECT, service);
            if (ids.length !== 1) return false;
            const state = (await inspect(ids[0] as string)).State;
            if (!state.Running || state.Health?.Status !== "healthy") return false;
          }
          return true;
        },
        { timeoutMs: HEALTHY_WITHIN_MS, what: "every compose service healthy", intervalMs: 1000 },
      ).catch(async (error: unknown) => {
        const ps = await composeRun(["ps"]).catch((e: Error) => ({ stdout: e.message }));
        const logs = await composeRun(["logs", "--tail", "30"]).catch((e: Error) => ({
          stdout: e.message,
        }));
        throw new Error(`${(error as Error).message}\n${ps.stdout}\n${logs.stdout}`);
      });
      upMs = performance.now() - started;
    });

    after(async () => {
      await composeRun(["down", "-v", "--remove-orphans", "-t", "30"]);
    });

    it("runs every Umbra service from the image as uid 1000 on a read-only root filesystem", async (t) => {
      t.diagnostic(
        `compose up to every service healthy: ${Math.round(upMs)} ms (${compose.join(" ")})`,
      );
      for (const service of UMBRA_SERVICES) {
        const id = await containerOf(service);
        const info = await inspect(id);
        assert.equal(info.Config.Image, image, service);
        assert.equal(info.HostConfig.ReadonlyRootfs, true, `${service} read_only`);
        assert.deepEqual(info.HostConfig.CapDrop, ["ALL"], `${service} cap_drop`);
        // What the process itself sees: its uid, and a write to the root filesystem refused.
        const probe = await docker(
          "exec",
          id,
          "node",
          "-e",
          `let write = "written";
         try { require("fs").writeFileSync("/app/probe", "x"); } catch (e) { write = e.code; }
         console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), write }));`,
        );
        assert.deepEqual(JSON.parse(probe), { uid: 1000, gid: 1000, write: "EROFS" }, service);
      }
    });

    it("serves a device through an edge container, and still does with a shard container stopped", async (t) => {
      // Registered with the image's own CLI, as deploy/README.md tells users to.
      const added = JSON.parse(
        await docker(
          "exec",
          await containerOf("shard-1"),
          "umbra",
          "device",
          "add",
          "smoke",
          "sensor-1",
          "--json",
        ),
      ) as { token: string };
      const device = await TestDevice.connect(
        `mqtt://127.0.0.1:${mqttPort}`,
        { productId: "smoke", deviceName: "sensor-1", token: added.token },
        { subscribe: ["$sys/smoke/sensor-1/image/update/accepted"] },
      );
      try {
        const update = async (reported: Record<string, unknown>) => {
          await device.client.publishAsync(
            "$sys/smoke/sensor-1/image/update",
            JSON.stringify({ state: { reported } }),
            { qos: 1 },
          );
          await device.next("/image/update/accepted", 60_000);
        };
        await update({ temperature: 21.5 });
        assert.deepEqual(await reportedOf(), { temperature: 21.5 });

        const stoppedAt = performance.now();
        await composeRun(["stop", "-t", "30", "shard-1"]);
        assert.equal((await inspect(await containerOf("shard-1"))).State.Running, false);
        // Its partitions move to shard-2 and shard-3; the edge re-sends until one answers.
        await update({ temperature: 22 });
        t.diagnostic(
          `an update answered ${Math.round(performance.now() - stoppedAt)} ms after shard-1 was told to stop`,
        );
        await pollUntil(async () => (await reportedOf())?.temperature === 22, {
          timeoutMs: 30_000,
          what: "the API reads the update made with shard-1 stopped",
          intervalMs: 250,
        });
      } finally {
        await device.close();
      }
    });
  });
};

const composes = image === undefined ? [] : await composeCommands();
if (image === undefined) describe("the compose cluster", { skip: SKIP_REASON }, () => {});
else if (composes.length === 0)
  it("finds Compose (docker compose or docker-compose) to run deploy/compose.yaml", () => {
    assert.fail("neither `docker compose` nor `docker-compose` answers");
  });
for (const compose of composes) smoke(compose);

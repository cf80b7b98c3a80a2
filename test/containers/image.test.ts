/**
 * The image under test as Kubernetes and a user run it: the manifests name it, it is
 * small enough to say, and each service starts from it as uid 1000 on a read-only root
 * filesystem with every capability dropped, answering /readyz. Sizes and start-up times
 * are reported (diagnostics), not asserted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { findKubectl, render } from "../k8s/kustomize.js";
import {
  freePort,
  pollUntil,
  type Server,
  startNats,
  startRedis,
  testContainerLabels,
} from "../src/harness.js";
import { docker, imageUnderTest, inspect, SKIP_REASON } from "./docker-cli.js";

const image = imageUnderTest();

/** Every container image of the workloads a kustomization renders. */
const imagesOf = (dir: string): Map<string, string> => {
  const kubectl = findKubectl();
  assert.ok(kubectl !== undefined, "kubectl (Debian's kubernetes-client) renders the manifests");
  const found = new Map<string, string>();
  for (const object of render(kubectl, dir)) {
    const pod = (object.spec as { template?: { spec?: { containers?: unknown } } } | undefined)
      ?.template?.spec;
    const containers = (pod?.containers ?? []) as { name: string; image: string }[];
    for (const c of containers)
      found.set(`${object.kind}/${object.metadata?.name}/${c.name}`, c.image);
  }
  return found;
};

describe("the image under test", { skip: image === undefined ? SKIP_REASON : false }, () => {
  let nats: Server | undefined;
  let redis: Server | undefined;
  const started: string[] = [];

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
  });

  after(async () => {
    for (const id of started) await docker("rm", "-f", id).catch(() => undefined);
    await Promise.all([nats?.stop(), redis?.stop()]);
  });

  it("is the image the Kubernetes dev overlay deploys for every Umbra workload", () => {
    const umbra = [...imagesOf("overlays/dev")].filter(([, ref]) => !/^(nats|redis):/.test(ref));
    assert.deepEqual(umbra.map(([workload]) => workload.split("/")[1]).sort(), [
      "umbra-api",
      "umbra-edge",
      "umbra-reply",
      "umbra-shard",
    ]);
    for (const [workload, ref] of umbra) assert.equal(ref, image, workload);
  });

  it("runs as uid 1000 and says its size", async (t) => {
    const info = JSON.parse(await docker("image", "inspect", image as string)) as {
      Config: { User: string };
      Size: number;
    }[];
    assert.equal(info[0]?.Config.User, "1000:1000");
    t.diagnostic(`${image}: ${((info[0]?.Size ?? 0) / 1e6).toFixed(0)} MB`);
  });

  // In this order, each kept running: the api is ready only once a shard serves the
  // partitions.
  for (const service of ["shard", "reply", "edge", "api"] as const)
    it(`starts ${service} read-only, non-root, without capabilities, to /readyz`, async (t) => {
      const port = await freePort();
      const env: Record<string, string> = {
        NATS_URL: nats?.url as string,
        REDIS_URL: redis?.url as string,
        ...(service === "api"
          ? { HTTP_PORT: String(port), API_AUTH: "off" }
          : { OPS_PORT: String(port) }),
        ...(service === "edge"
          ? { MQTT_PORT: String(await freePort()), MQTTS_PORT: String(await freePort()) }
          : {}),
      };
      const startedAt = performance.now();
      // Host networking: the harness's NATS and Redis are published on 127.0.0.1. The data
      // directory is a tmpfs owned by the image's user, as an emptyDir is in Kubernetes.
      const id = await docker(
        "run",
        "-d",
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/var/lib/umbra:uid=1000,gid=1000,mode=0700",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        ...Object.entries(testContainerLabels()).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
        ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        image as string,
        service,
      );
      started.push(id);
      await pollUntil(
        async () => {
          const state = (await inspect(id)).State;
          if (!state.Running) throw new Error(`${service} exited: ${await docker("logs", id)}`);
          return fetch(`http://127.0.0.1:${port}/readyz`).then(
            (res) => res.status === 200,
            () => false,
          );
        },
        { timeoutMs: 60_000, what: `${service} in ${image} answers /readyz`, intervalMs: 50 },
      );
      t.diagnostic(
        `${service}: docker run to /readyz 200 in ${Math.round(performance.now() - startedAt)} ms`,
      );
      const info = await inspect(id);
      assert.equal(info.HostConfig.ReadonlyRootfs, true);
      const uid = await docker("exec", id, "node", "-p", "process.getuid()");
      assert.equal(uid, "1000");
    });
});

import { existsSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { homedir, hostname } from "node:os";
import { join } from "node:path";

type Target =
  | { readonly socketPath: string }
  | { readonly host: string; readonly port: number; readonly tls: boolean };

/** Where a Docker engine may listen: DOCKER_HOST if set, else the usual sockets that exist. */
const targets = (): Target[] => {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost !== undefined && dockerHost !== "") {
    if (dockerHost.startsWith("unix://")) return [{ socketPath: dockerHost.slice(7) }];
    const tcp = /^tcp:\/\/([^:/]+):(\d+)/.exec(dockerHost);
    if (tcp?.[1] !== undefined && tcp[2] !== undefined)
      return [{ host: tcp[1], port: Number(tcp[2]), tls: process.env.DOCKER_TLS_VERIFY === "1" }];
    return [];
  }
  const runtimeDir = process.env.XDG_RUNTIME_DIR;
  return [
    "/var/run/docker.sock",
    ...(runtimeDir === undefined ? [] : [join(runtimeDir, "docker.sock")]),
    join(homedir(), ".docker", "run", "docker.sock"),
    join(homedir(), ".docker", "desktop", "docker.sock"),
  ]
    .filter((path) => existsSync(path))
    .map((socketPath) => ({ socketPath }));
};

const TIMEOUT_MS = 1000;

/** GET /_ping answers 200 when the engine is up; a TLS endpoint only gets a TCP connect. */
const answers = (target: Target): Promise<boolean> =>
  new Promise((resolve) => {
    if ("tls" in target && target.tls) {
      const socket = connect({ host: target.host, port: target.port });
      socket.setTimeout(TIMEOUT_MS, () => socket.destroy());
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      socket.once("close", () => resolve(false));
      return;
    }
    const req = request(
      { ...target, path: "/_ping", method: "GET", timeout: TIMEOUT_MS },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });

const detect = async (): Promise<boolean> => {
  const choice = (process.env.UMBRA_TEST_DOCKER ?? "").toLowerCase();
  if (["0", "off", "no", "false"].includes(choice)) return false;
  for (const target of targets())
    if (await answers(target)) {
      engine = target;
      // testcontainers' reaper (Ryuk) is an image to pull, which machines without a
      // registry cannot; the labels above do its work at the next start. Set it to false
      // to have Ryuk as well.
      process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
      if (!("tls" in target && target.tls)) await removeOrphanedContainers();
      return true;
    }
  if (["1", "on", "yes", "true"].includes(choice))
    throw new Error("UMBRA_TEST_DOCKER=1 but no Docker engine answers (DOCKER_HOST or its socket)");
  return false;
};

/** The engine that answered the ping. */
let engine: Target | undefined;

/** One request to the engine's API over its unix socket (or plain TCP); JSON in and out. */
const engineRequest = (
  method: string,
  path: string,
): Promise<{ readonly status: number; readonly body: unknown }> => {
  const target = engine;
  if (target === undefined || ("tls" in target && target.tls))
    return Promise.reject(
      new Error("no Docker engine socket to call (a TLS DOCKER_HOST is not called)"),
    );
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, method, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = text === "" ? undefined : JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on("error", reject);
    });
    req.once("timeout", () => req.destroy(new Error(`Docker ${method} ${path} timed out`)));
    req.once("error", reject);
    req.end();
  });
};

/** The owner label every container the harness starts carries: which process on which host. */
const OWNER_PID = "org.umbra.test.pid";
const OWNER_HOST = "org.umbra.test.host";

/**
 * Labels for every container a test process starts (harness servers, the load cluster).
 * testcontainers' reaper, which would remove them when the process dies, cannot be pulled
 * on machines without a registry and runs disabled; the labels let the next run do it.
 */
export const testContainerLabels = (): Record<string, string> => ({
  "org.umbra.test": "true",
  [OWNER_PID]: String(process.pid),
  [OWNER_HOST]: hostname(),
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, another user's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

interface ContainerSummary {
  readonly Id: string;
  readonly Labels?: Record<string, string>;
  readonly NetworkSettings?: {
    readonly Networks?: Record<string, { readonly NetworkID?: string }>;
  };
}

/**
 * Removes what a killed test run left behind: containers labelled by a test process of
 * this host that no longer runs, and the networks they were on (a network still in use
 * stays). Concurrent runs keep theirs: their owner is alive. Returns how many containers
 * went.
 */
export const removeOrphanedContainers = async (): Promise<number> => {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${OWNER_HOST}=${hostname()}`] }));
  const listed = await engineRequest("GET", `/containers/json?all=1&filters=${filters}`);
  if (listed.status !== 200 || !Array.isArray(listed.body))
    throw new Error(
      `Docker refused to list containers: ${listed.status} ${JSON.stringify(listed.body)}`,
    );
  const orphans = (listed.body as ContainerSummary[]).filter((c) => {
    const pid = Number(c.Labels?.[OWNER_PID]);
    return Number.isInteger(pid) && pid > 0 && !alive(pid);
  });
  const networks = new Set<string>();
  for (const orphan of orphans) {
    for (const [name, net] of Object.entries(orphan.NetworkSettings?.Networks ?? {}))
      if (!["bridge", "host", "none"].includes(name) && net.NetworkID !== undefined)
        networks.add(net.NetworkID);
    const removed = await engineRequest("DELETE", `/containers/${orphan.Id}?force=1&v=1`);
    if (removed.status >= 300 && removed.status !== 404)
      throw new Error(`Docker did not remove container ${orphan.Id}: ${removed.status}`);
  }
  // 403/409: another container still uses it; 404: already gone.
  for (const id of networks) await engineRequest("DELETE", `/networks/${id}`);
  return orphans.length;
};

/** The host pid of a running container's first process (what /proc shows), if running. */
export const containerPid = async (id: string): Promise<number | undefined> => {
  const { status, body } = await engineRequest("GET", `/containers/${id}/json`);
  const pid = status === 200 ? (body as { State?: { Pid?: number } }).State?.Pid : undefined;
  return pid === undefined || pid === 0 ? undefined : pid;
};

/** Freezes every process of a container (the cgroup freezer, like SIGSTOP) or thaws it. */
export const setContainerPaused = async (id: string, paused: boolean): Promise<void> => {
  const { status, body } = await engineRequest(
    "POST",
    `/containers/${id}/${paused ? "pause" : "unpause"}`,
  );
  // Idempotent, as SIGSTOP and SIGCONT are: already in that state is fine.
  if (status !== 204 && !/is (not|already) paused/.test(JSON.stringify(body)))
    throw new Error(
      `Docker did not ${paused ? "pause" : "unpause"} ${id}: ${status} ${JSON.stringify(body)}`,
    );
};

let decision: Promise<boolean> | undefined;

/**
 * Whether NATS and Redis run in containers (testcontainers) or as local binaries. Decided
 * once per process by pinging the engine with a short timeout (and then removing what
 * killed runs left behind); UMBRA_TEST_DOCKER=0 forces local binaries,
 * UMBRA_TEST_DOCKER=1 requires Docker.
 */
export const dockerAvailable = (): Promise<boolean> => {
  decision ??= detect();
  return decision;
};

/** "docker" or "local": how startNats/startRedis run their servers in this process. */
export const serverRuntime = async (): Promise<"docker" | "local"> =>
  (await dockerAvailable()) ? "docker" : "local";

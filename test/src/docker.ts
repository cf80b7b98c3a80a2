import { existsSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { homedir } from "node:os";
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
  for (const target of targets()) if (await answers(target)) return true;
  if (["1", "on", "yes", "true"].includes(choice))
    throw new Error("UMBRA_TEST_DOCKER=1 but no Docker engine answers (DOCKER_HOST or its socket)");
  return false;
};

let decision: Promise<boolean> | undefined;

/**
 * Whether NATS and Redis run in containers (testcontainers) or as local binaries. Decided
 * once per process by pinging the engine with a short timeout; UMBRA_TEST_DOCKER=0 forces
 * local binaries, UMBRA_TEST_DOCKER=1 requires Docker.
 */
export const dockerAvailable = (): Promise<boolean> => {
  decision ??= detect();
  return decision;
};

/** "docker" or "local": how startNats/startRedis run their servers in this process. */
export const serverRuntime = async (): Promise<"docker" | "local"> =>
  (await dockerAvailable()) ? "docker" : "local";

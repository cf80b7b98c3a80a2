/**
 * The container checks' view of Docker: the image under test, the docker CLI, and Compose
 * v2 (`docker compose`) or v1 (`docker-compose`), whichever this machine has.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * The image the container checks run against (`UMBRA_TEST_IMAGE`, set by CI after it
 * builds `umbra:dev`); undefined skips them, as they need an engine and a built image.
 */
export const imageUnderTest = (): string | undefined => {
  const image = process.env.UMBRA_TEST_IMAGE;
  return image === undefined || image === "" ? undefined : image;
};

export const SKIP_REASON =
  "set UMBRA_TEST_IMAGE=umbra:dev (built, with a Docker engine) to run the container checks";

export interface Output {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; a non-zero exit throws with its output. */
export const sh = async (
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Output> => {
  try {
    return await run(command, [...args], {
      encoding: "utf8",
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as Error & Partial<Output> & { code?: unknown };
    throw new Error(
      `${command} ${args.join(" ")} failed (${String(e.code)}): ${e.message}\n${e.stderr ?? ""}${e.stdout ?? ""}`,
    );
  }
};

/** `docker …`, its stdout trimmed. */
export const docker = async (...args: string[]): Promise<string> =>
  (await sh("docker", args)).stdout.trim();

/** Every Compose this machine has: `docker compose` (v2, the plugin) and `docker-compose` (v1). */
export const composeCommands = async (): Promise<(readonly string[])[]> => {
  const found: (readonly string[])[] = [];
  for (const command of [["docker", "compose"], ["docker-compose"]] as const) {
    const [bin, ...args] = command;
    try {
      await sh(bin, [...args, "version"], { timeoutMs: 10_000 });
      found.push(command);
    } catch {
      // not installed
    }
  }
  return found;
};

/** The ids of a Compose project's containers for one service (v1 and v2 label them alike). */
export const serviceContainers = async (project: string, service: string): Promise<string[]> =>
  (
    await docker(
      "ps",
      "-aq",
      "--filter",
      `label=com.docker.compose.project=${project}`,
      "--filter",
      `label=com.docker.compose.service=${service}`,
    )
  )
    .split("\n")
    .filter((id) => id !== "");

export interface Inspected {
  readonly Id: string;
  readonly Config: { readonly User: string; readonly Image: string };
  readonly HostConfig: {
    readonly ReadonlyRootfs: boolean;
    readonly CapDrop: readonly string[] | null;
    readonly SecurityOpt: readonly string[] | null;
  };
  readonly State: { readonly Running: boolean; readonly Health?: { readonly Status: string } };
}

export const inspect = async (id: string): Promise<Inspected> =>
  (JSON.parse(await docker("inspect", id)) as Inspected[])[0] as Inspected;

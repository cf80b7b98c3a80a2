/**
 * What the fuzz suite attacks: a real cluster (NATS and Redis of its own, shard, reply,
 * one edge and one API process) with an attacker product, and the invariants checked after
 * every family: the processes live, a fresh device is served, another product's shadow is
 * unchanged, and memory is bounded.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type ApiCluster, type httpClient, startApiCluster, TestDevice } from "../src/harness.js";

/** The product the attacker devices and the scoped API key belong to. */
export const ATTACKER = "fuzz";
/** Another product: nothing done as the attacker may change or read its devices. */
export const VICTIM = "victim";
/** Attacker devices: one per parallel connection, so no session takes over another. */
export const ATTACKER_DEVICES = 16;

/**
 * Where the attacker's connections come from. The edge and the API throttle failed
 * authentication per source address, so an attacker's wrong passwords and bad keys slow
 * down its own address only: the attacker's valid sessions and keyed requests come from
 * other addresses (all of 127.0.0.0/8 is loopback), and the health check's fresh device
 * from 127.0.0.1, as a legitimate device elsewhere would.
 */
export const FROM = {
  /** CONNECTs that may fail authentication: garbage, truncated and mutated CONNECTs. */
  credentials: "127.0.0.2",
  /** Sessions of the attacker's devices, with their valid tokens. */
  sessions: "127.0.0.3",
  /** API requests with a bogus key or none. */
  unkeyed: "127.0.0.4",
  /** API requests with a valid key. */
  keyed: "127.0.0.5",
} as const;

export const ADMIN_KEY = "fuzz-admin-key-0123456789";
/** A key scoped to the attacker's product only. */
export const TENANT_KEY = "fuzz-tenant-key-0123456789";

/**
 * RSS ceilings, MiB. An idle edge or API process holds ~80–110 MiB on the 2-core
 * development machine; the ceilings leave room for the suite's load, not for a leak
 * that grows with the cases sent. `FUZZ_RSS_MIB` overrides all of them.
 */
export const RSS_CEILING_MIB: Readonly<Record<string, number>> = {
  "edge-a": 300,
  "api-0": 300,
  shard: 300,
  reply: 300,
};

export interface Credentials {
  readonly productId: string;
  readonly deviceName: string;
  readonly token: string;
}

export interface Target {
  readonly cluster: ApiCluster;
  readonly mqttPort: number;
  readonly httpPort: number;
  readonly attackers: readonly Credentials[];
  /** An attacker gateway (no sub-devices of another product). */
  readonly gateway: Credentials;
  /** Another victim device whose traffic must never reach an attacker. */
  readonly noisy: Credentials;
  /** The victim's device whose shadow must never change, and its shadow at the start. */
  /** Its shadow is re-read after a reported change, so each change is reported once. */
  readonly victim: { readonly deviceName: string; shadow: unknown };
  /** Fresh devices made by the checks, so every check connects a new one. */
  fresh: number;
  stop(): Promise<void>;
}

type Http = ReturnType<typeof httpClient>;
const http = (t: { cluster: ApiCluster }): Http => t.cluster.http[0] as Http;
const device = (pid: string, dn: string) => `/v1/products/${pid}/devices/${dn}`;

/** Registers a device over the API and issues its token. */
export const register = async (
  api: Http,
  productId: string,
  deviceName: string,
): Promise<Credentials> => {
  const made = await api("POST", `/v1/products/${productId}/devices`, {
    key: ADMIN_KEY,
    body: { name: deviceName },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const token = await api("POST", `${device(productId, deviceName)}/token`, {
    key: ADMIN_KEY,
    body: {},
  });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return { productId, deviceName, token: (token.body as { token: string }).token };
};

const victimShadow = async (t: { cluster: ApiCluster }, dn: string): Promise<unknown> => {
  const got = await http(t)("GET", `${device(VICTIM, dn)}/shadow`, { key: ADMIN_KEY });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.body;
};

export const startTarget = async (): Promise<Target> => {
  const cluster = await startApiCluster({
    apiKeys: `${ADMIN_KEY}=*,${TENANT_KEY}=${ATTACKER}`,
    adminKey: ADMIN_KEY,
    products: [ATTACKER, VICTIM],
    // The suite sends thousands of requests a second with one key: the rate limit is
    // not what is tested here.
    apis: [{ API_RATE_LIMIT: "0", GATEWAY_TIMEOUT_MS: "200" }],
  });
  try {
    const api = cluster.http[0] as Http;
    const attackers: Credentials[] = [];
    for (let i = 0; i < ATTACKER_DEVICES; i++)
      attackers.push(await register(api, ATTACKER, `a${i}`));
    const gateway = await register(api, ATTACKER, "gw");
    await register(api, VICTIM, "v1");
    const noisy = await register(api, VICTIM, "v2");
    const patched = await api("PATCH", `${device(VICTIM, "v1")}/shadow`, {
      key: ADMIN_KEY,
      type: "application/merge-patch+json",
      body: { desired: { mode: "eco", limits: { max: 42 } } },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const shadow = await victimShadow({ cluster }, "v1");
    const port = (url: string | undefined) => Number(new URL(url as string).port);
    return {
      cluster,
      mqttPort: port(cluster.mqttUrls[0]),
      httpPort: port(cluster.apiUrls[0]),
      attackers,
      gateway,
      noisy,
      victim: { deviceName: "v1", shadow },
      fresh: 0,
      stop: () => cluster.stop(),
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
};

/** Resident set size of a process, MiB, from /proc/<pid>/status. */
export const rssMiB = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
};

/** Which cluster processes have exited, with their exit code or signal. */
export const deadProcesses = (t: Target): string[] => {
  const dead: string[] = [];
  for (const [name, p] of t.cluster.processes)
    if (p.proc.exitCode !== null || p.proc.signalCode !== null)
      dead.push(`${name} exited (${p.proc.exitCode ?? p.proc.signalCode})`);
  return dead;
};

/**
 * The target itself, or a new one in its place when one of its processes died (the
 * crash is already reported): later families then still say something.
 */
export const revived = async (t: Target): Promise<Target> => {
  if (deadProcesses(t).length === 0) return t;
  await t.stop();
  return startTarget();
};

/** Throws naming the dead processes, with the end of their output. */
export const assertAlive = (t: Target): void => {
  const dead = deadProcesses(t);
  if (dead.length === 0) return;
  const tails = [...t.cluster.processes]
    .filter(([, p]) => p.proc.exitCode !== null || p.proc.signalCode !== null)
    .map(([name, p]) => `--- ${name} ---\n${p.logs().split("\n").slice(-30).join("\n")}`);
  throw new Error(`process died: ${dead.join(", ")}\n${tails.join("\n")}`);
};

export interface Health {
  /** RSS per process, MiB. */
  readonly rss: Record<string, number>;
}

/**
 * The invariants after a family: every process lives; a device registered now connects
 * and gets `accepted` for an image update; the victim's shadow (another product) has the
 * version and content it had at the start; every process's RSS is below its ceiling.
 */
export const checkHealth = async (t: Target): Promise<Health> => {
  assertAlive(t);
  const creds = await register(http(t), ATTACKER, `fresh-${t.fresh++}`);
  const d = await TestDevice.connect(`mqtt://127.0.0.1:${t.mqttPort}`, creds, {
    subscribe: [`$sys/${ATTACKER}/${creds.deviceName}/image/#`],
  });
  try {
    await d.client.publishAsync(
      `$sys/${ATTACKER}/${creds.deviceName}/image/update`,
      JSON.stringify({ state: { reported: { alive: true } } }),
      { qos: 1 },
    );
    const answer = await d.next("/image/update/accepted");
    assert.equal((answer.body as { version: number }).version, 1, JSON.stringify(answer.body));
  } finally {
    await d.close();
  }
  const problems: string[] = [];
  const now = await victimShadow(t, t.victim.deviceName);
  try {
    assert.deepEqual(now, t.victim.shadow);
  } catch {
    problems.push(
      `the victim's shadow (another product) changed: was ${JSON.stringify(t.victim.shadow)}, is ${JSON.stringify(now)}`,
    );
    t.victim.shadow = now;
  }
  const override = process.env.FUZZ_RSS_MIB;
  const rss: Record<string, number> = {};
  for (const [name, p] of t.cluster.processes) {
    const mib = rssMiB(p.proc.pid as number);
    rss[name] = Math.round(mib);
    const ceiling = override === undefined ? (RSS_CEILING_MIB[name] ?? 300) : Number(override);
    if (mib >= ceiling)
      problems.push(`${name}: RSS ${mib.toFixed(0)} MiB is not below ${ceiling} MiB`);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  assertAlive(t);
  return { rss };
};

import type { ShadowDocument } from "@umbra/core";
import type { Redis } from "ioredis";
import { shadowKey } from "./keys.js";

/**
 * Compare-and-set of a shadow record. `rev` counts writes and never decreases (a
 * shadow's `version` can: Alibaba's `-1` resets it), so it is what writers fence on:
 * a writer whose view of `rev` is stale fails and must reload, never overwrite.
 * Every call carries a token stored with the write (`bt`): when a connection drops
 * after Redis applied the script but before its answer arrived, the client sends the
 * same call again on reconnect, and that second run must answer "written" — a
 * "stale" would make the writer reload and apply the same commands a second time.
 * KEYS[1] shadow key; ARGV: expected rev (0 = absent), document JSON, dedup ring, token.
 * Returns {1, new rev} or {0, current rev}.
 */
const CAS_SCRIPT = `
local current = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if current ~= tonumber(ARGV[1]) then
  if current == tonumber(ARGV[1]) + 1 and redis.call('HGET', KEYS[1], 'bt') == ARGV[4] then
    return {1, current}
  end
  return {0, current}
end
local nextRev = current + 1
redis.call('HSET', KEYS[1], 'rev', nextRev, 'doc', ARGV[2], 'dd', ARGV[3], 'bt', ARGV[4])
return {1, nextRev}
`;

/** Deletes a shadow only at the expected rev; returns {1, 0} or {0, current rev}. */
const DELETE_SCRIPT = `
local current = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
redis.call('DEL', KEYS[1])
return {1, 0}
`;

interface CasCommands {
  umbraShadowCas(
    key: string,
    rev: number,
    doc: string,
    dedup: string,
    token: string,
  ): Promise<[number, number]>;
  umbraShadowDelete(key: string, rev: number): Promise<[number, number]>;
}

export interface ShadowRecord {
  /** 0 when the device has no shadow yet. */
  readonly rev: number;
  readonly doc: ShadowDocument | undefined;
  /** Recently applied QoS 1 publishes (see the shard's dedup ring). */
  readonly dedup: string;
}

export type CasOutcome =
  | { readonly ok: true; readonly rev: number }
  | { readonly ok: false; readonly rev: number };

export class CorruptRecordError extends Error {
  override readonly name = "CorruptRecordError";
}

export class ShadowStore {
  readonly #redis: Redis & CasCommands;
  /** Write tokens: unique per process (random prefix) and per call (counter). */
  readonly #tokenPrefix = `${Math.random().toString(36).slice(2, 10)}.`;
  #writes = 0;

  constructor(redis: Redis) {
    if (!("umbraShadowCas" in redis)) {
      redis.defineCommand("umbraShadowCas", { numberOfKeys: 1, lua: CAS_SCRIPT });
      redis.defineCommand("umbraShadowDelete", { numberOfKeys: 1, lua: DELETE_SCRIPT });
    }
    this.#redis = redis as Redis & CasCommands;
  }

  async load(deviceKey: string): Promise<ShadowRecord> {
    const [rev, doc, dedup] = await this.#redis.hmget(shadowKey(deviceKey), "rev", "doc", "dd");
    if (rev === null || rev === undefined || doc === null || doc === undefined)
      return { rev: 0, doc: undefined, dedup: "" };
    let parsed: ShadowDocument;
    try {
      parsed = JSON.parse(doc) as ShadowDocument;
    } catch (e) {
      throw new CorruptRecordError(
        `shadow of ${deviceKey} is not JSON: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    return { rev: Number(rev), doc: parsed, dedup: dedup ?? "" };
  }

  async compareAndSet(
    deviceKey: string,
    expectedRev: number,
    docJson: string,
    dedup: string,
  ): Promise<CasOutcome> {
    const token = this.#tokenPrefix + (++this.#writes).toString(36);
    const [ok, rev] = await this.#redis.umbraShadowCas(
      shadowKey(deviceKey),
      expectedRev,
      docJson,
      dedup,
      token,
    );
    return { ok: ok === 1, rev };
  }

  async delete(deviceKey: string, expectedRev: number): Promise<CasOutcome> {
    const [ok, rev] = await this.#redis.umbraShadowDelete(shadowKey(deviceKey), expectedRev);
    return { ok: ok === 1, rev };
  }
}

import type { ShadowDocument } from "@umbra/core";
import type { Redis } from "ioredis";
import { shadowKey } from "./keys.js";

/** A shadow record as stored: its write counter, document and dedup ring. */
export interface ShadowRecord {
  /** 0 when the device has no shadow yet. */
  readonly rev: number;
  readonly doc: ShadowDocument | undefined;
  /** Recently applied QoS 1 publishes, serialized (`DedupRing`). */
  readonly dedup: string;
}

export type CasOutcome =
  | { readonly ok: true; readonly rev: number }
  | { readonly ok: false; readonly rev: number };

/**
 * What the shard needs of shadow storage. Writes are compare-and-set on `rev`, which
 * counts writes and never decreases (a shadow's `version` can: Alibaba's `-1` resets
 * it), so a writer whose view is stale fails and must reload, never overwrite. A
 * deleted shadow is written too, as a tombstone: its `rev` goes on, so a writer that
 * read before the delete still fails.
 */
export interface ShadowStore {
  load(deviceKey: string): Promise<ShadowRecord>;
  /**
   * Stores the document (JSON) and the dedup ring together if the record is still at
   * `expectedRev` (0: absent): `{ok: true, rev}` with the new rev, else the current one.
   */
  compareAndSet(
    deviceKey: string,
    expectedRev: number,
    docJson: string,
    dedup: string,
  ): Promise<CasOutcome>;
}

/**
 * A deleted shadow as stored: an empty document marked `deleted`, at the version after
 * the last one and in the same epoch. Reads find no shadow; the next write starts an
 * empty shadow that goes on from that (epoch, version), so an ETag taken before the
 * delete never matches what comes after.
 */
export type Tombstone = ShadowDocument & { readonly deleted: true };

export const isTombstone = (doc: ShadowDocument | undefined): doc is Tombstone =>
  doc !== undefined && (doc as Partial<Tombstone>).deleted === true;

/**
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

interface CasCommand {
  umbraShadowCas(
    key: string,
    rev: number,
    doc: string,
    dedup: string,
    token: string,
  ): Promise<[number, number]>;
}

export class CorruptRecordError extends Error {
  override readonly name = "CorruptRecordError";
}

/** Write tokens unique per process (random prefix) and per call (counter). */
const writeTokens = (): (() => string) => {
  const prefix = `${Math.random().toString(36).slice(2, 10)}.`;
  let writes = 0;
  return () => prefix + (++writes).toString(36);
};

/** Shadow records in Redis: one hash per device (`shadowKey`), written by one Lua script. */
export class RedisShadowStore implements ShadowStore {
  readonly #redis: Redis & CasCommand;
  readonly #token: () => string;

  /** `token` makes each write's token; tests pass one that repeats to replay a call. */
  constructor(redis: Redis, token: () => string = writeTokens()) {
    if (!("umbraShadowCas" in redis))
      redis.defineCommand("umbraShadowCas", { numberOfKeys: 1, lua: CAS_SCRIPT });
    this.#redis = redis as Redis & CasCommand;
    this.#token = token;
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
    const [ok, rev] = await this.#redis.umbraShadowCas(
      shadowKey(deviceKey),
      expectedRev,
      docJson,
      dedup,
      this.#token(),
    );
    return { ok: ok === 1, rev };
  }
}

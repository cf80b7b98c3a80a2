import type { ShadowDocument } from "@umbra/core";
import type { Redis } from "ioredis";
import { namedShadowKey, shadowKey, shadowNamesKey } from "./keys.js";

/** A shadow record as stored: its write counter, document and dedup ring. */
export interface ShadowRecord {
  /** 0 when the device has no shadow yet. */
  readonly rev: number;
  readonly doc: ShadowDocument | undefined;
  /** Recently applied QoS 1 publishes, serialized (`DedupRing`). */
  readonly dedup: string;
  /**
   * A named shadow's load only: how many named shadows of the device exist (this one
   * included when it is live), what a write creating one is bounded by.
   */
  readonly names?: number;
}

/**
 * A named shadow's write: which name, whether the document stored is live (the name
 * joins the device's set of names) or a tombstone (it leaves it), and how many names
 * the set may hold at most (a write that would add one past it is refused).
 */
export interface NamedShadowWrite {
  readonly name: string;
  readonly live: boolean;
  readonly maxNames: number;
}

export type CasOutcome =
  | { readonly ok: true; readonly rev: number }
  /**
   * Not written: the record is at another `rev`, or (`tooManyNames`) the write would
   * create a named shadow past `NamedShadowWrite.maxNames`; `names` is the count then.
   */
  | {
      readonly ok: false;
      readonly rev: number;
      readonly tooManyNames?: true;
      readonly names?: number;
    };

/**
 * What the shard needs of shadow storage. Writes are compare-and-set on `rev`, which
 * counts writes and never decreases (a shadow's `version` can: Alibaba's `-1` resets
 * it), so a writer whose view is stale fails and must reload, never overwrite. A
 * deleted shadow is written too, as a tombstone: its `rev` goes on, so a writer that
 * read before the delete still fails.
 */
export interface ShadowStore {
  /** The device's classic shadow, or its named shadow `shadow` (with `names`). */
  load(deviceKey: string, shadow?: string): Promise<ShadowRecord>;
  /**
   * Stores the document (JSON) and the dedup ring together if the record is still at
   * `expectedRev` (0: absent): `{ok: true, rev}` with the new rev, else the current one.
   * `shadow`: a named shadow's write, which also keeps the device's set of names.
   */
  compareAndSet(
    deviceKey: string,
    expectedRev: number,
    docJson: string,
    dedup: string,
    shadow?: NamedShadowWrite,
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

/** The rev check both scripts open with: a stale writer fails, a replay of the last call succeeds. */
const REV_CHECK = `
local current = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if current ~= tonumber(ARGV[1]) then
  if current == tonumber(ARGV[1]) + 1 and redis.call('HGET', KEYS[1], 'bt') == ARGV[4] then
    return {1, current}
  end
  return {0, current}
end
`;

/** The write both scripts close with. */
const STORE = `
local nextRev = current + 1
redis.call('HSET', KEYS[1], 'rev', nextRev, 'doc', ARGV[2], 'dd', ARGV[3], 'bt', ARGV[4])
return {1, nextRev}
`;

/**
 * Every call carries a token stored with the write (`bt`): when a connection drops
 * after Redis applied the script but before its answer arrived, the client sends the
 * same call again on reconnect, and that second run must answer "written" — a
 * "stale" would make the writer reload and apply the same commands a second time.
 * KEYS[1] shadow key; ARGV: expected rev (0 = absent), document JSON, dedup ring, token.
 * Returns {1, new rev} or {0, current rev}.
 */
const CAS_SCRIPT = REV_CHECK + STORE;

/**
 * The same for a named shadow, which also keeps the device's set of names: the name
 * joins it when the document stored is live, leaves it when it is a tombstone. A live
 * write whose name is not in the set yet is refused when the set already holds the most
 * names allowed: checked here, in the write itself, because the device's other named
 * shadows are other actors that may be creating theirs at the same moment.
 * KEYS[1] shadow key, KEYS[2] names key; ARGV[1..4] as above, ARGV[5] name,
 * ARGV[6] "1" live / "0" tombstone, ARGV[7] most names.
 * Returns {1, new rev}, {0, current rev}, or {-1, current rev, names} (too many names).
 */
const NAMED_CAS_SCRIPT = `${REV_CHECK}if ARGV[6] == '1' then
  if redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 0 then
    local names = redis.call('SCARD', KEYS[2])
    if names >= tonumber(ARGV[7]) then
      return {-1, current, names}
    end
    redis.call('SADD', KEYS[2], ARGV[5])
  end
else
  redis.call('SREM', KEYS[2], ARGV[5])
end
${STORE}`;

interface CasCommand {
  umbraShadowCas(
    key: string,
    rev: number,
    doc: string,
    dedup: string,
    token: string,
  ): Promise<[number, number]>;
  umbraNamedShadowCas(
    key: string,
    namesKey: string,
    rev: number,
    doc: string,
    dedup: string,
    token: string,
    name: string,
    live: "1" | "0",
    maxNames: number,
  ): Promise<[number, number, number?]>;
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

/**
 * Shadow records in Redis: one hash per device (`shadowKey`) and per named shadow
 * (`namedShadowKey`), each written by one Lua script.
 */
export class RedisShadowStore implements ShadowStore {
  readonly #redis: Redis & CasCommand;
  readonly #token: () => string;

  /** `token` makes each write's token; tests pass one that repeats to replay a call. */
  constructor(redis: Redis, token: () => string = writeTokens()) {
    if (!("umbraShadowCas" in redis))
      redis.defineCommand("umbraShadowCas", { numberOfKeys: 1, lua: CAS_SCRIPT });
    if (!("umbraNamedShadowCas" in redis))
      redis.defineCommand("umbraNamedShadowCas", { numberOfKeys: 2, lua: NAMED_CAS_SCRIPT });
    this.#redis = redis as Redis & CasCommand;
    this.#token = token;
  }

  async load(deviceKey: string, shadow?: string): Promise<ShadowRecord> {
    if (shadow === undefined)
      return recordOf(
        deviceKey,
        await this.#redis.hmget(shadowKey(deviceKey), "rev", "doc", "dd"),
        undefined,
      );
    // One round trip (auto-pipelined): the record and the count of the device's names.
    const [fields, names] = await Promise.all([
      this.#redis.hmget(namedShadowKey(deviceKey, shadow), "rev", "doc", "dd"),
      this.#redis.scard(shadowNamesKey(deviceKey)),
    ]);
    return recordOf(`${deviceKey} (${shadow})`, fields, names);
  }

  async compareAndSet(
    deviceKey: string,
    expectedRev: number,
    docJson: string,
    dedup: string,
    shadow?: NamedShadowWrite,
  ): Promise<CasOutcome> {
    if (shadow === undefined) {
      const [ok, rev] = await this.#redis.umbraShadowCas(
        shadowKey(deviceKey),
        expectedRev,
        docJson,
        dedup,
        this.#token(),
      );
      return { ok: ok === 1, rev };
    }
    const [ok, rev, names] = await this.#redis.umbraNamedShadowCas(
      namedShadowKey(deviceKey, shadow.name),
      shadowNamesKey(deviceKey),
      expectedRev,
      docJson,
      dedup,
      this.#token(),
      shadow.name,
      shadow.live ? "1" : "0",
      shadow.maxNames,
    );
    if (ok === 1) return { ok: true, rev };
    return ok === -1
      ? { ok: false, rev, tooManyNames: true, names: names ?? 0 }
      : { ok: false, rev };
  }

  /** The names of the device's named shadows that exist, sorted. */
  listShadowNames(deviceKey: string): Promise<string[]> {
    return listShadowNames(this.#redis, deviceKey);
  }
}

/** The names of a device's named shadows that exist (written, not deleted), sorted. */
export const listShadowNames = async (redis: Redis, deviceKey: string): Promise<string[]> =>
  (await redis.smembers(shadowNamesKey(deviceKey))).sort();

const recordOf = (
  what: string,
  [rev, doc, dedup]: (string | null)[],
  names: number | undefined,
): ShadowRecord => {
  const count = names === undefined ? {} : { names };
  if (rev === null || rev === undefined || doc === null || doc === undefined)
    return { rev: 0, doc: undefined, dedup: "", ...count };
  let parsed: ShadowDocument;
  try {
    parsed = JSON.parse(doc) as ShadowDocument;
  } catch (e) {
    throw new CorruptRecordError(
      `shadow of ${what} is not JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return { rev: Number(rev), doc: parsed, dedup: dedup ?? "", ...count };
};

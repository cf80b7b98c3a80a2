/**
 * JSON encoding for the hot path, byte-for-byte `JSON.stringify`'s output (the property
 * tests hold it to that):
 * - `encodeJson` writes messages with fast paths for the small objects replies are;
 * - `encodeDocument` exploits immutability: a write shares one stamp object among the
 *   leaves it writes and leaves every other leaf untouched, so the JSON of objects of
 *   primitives is cached by identity and a document re-encodes only what changed;
 * - `encodedByteLength` / `jsonByteLength` measure sizes for the document limit.
 *
 * Caching by identity is valid because the engine never mutates an object once it is
 * part of a document or a request handed to it; callers must not either (the types are
 * readonly).
 */
import type { JsonValue } from "./json.js";

interface Encoded {
  readonly json: string;
  readonly bytes: number;
}

const cache = new WeakMap<object, Encoded>();

const NON_ASCII = /[\u0080-\uffff]/;

/** Bytes of a string once encoded as UTF-8. */
export const utf8Length = (s: string): number => {
  if (!NON_ASCII.test(s)) return s.length;
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: what JSON.stringify escapes in a string
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** A string as a JSON literal; quoting directly when nothing needs escaping. */
const quote = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/** Property names repeat across documents: keep their literals (bounded). */
const keyLiterals = new Map<string, Encoded>();
const MAX_KEY_LITERALS = 10_000;

const keyLiteral = (key: string): Encoded => {
  let literal = keyLiterals.get(key);
  if (literal === undefined) {
    if (keyLiterals.size >= MAX_KEY_LITERALS) keyLiterals.clear();
    const json = quote(key);
    literal = { json: `${json}:`, bytes: utf8Length(json) + 1 };
    keyLiterals.set(key, literal);
  }
  return literal;
};

/**
 * Kept in the cache: objects of primitives (metadata leaves) always, and the object
 * itself when `keepThis` (a section `encodedByteLength` measured, which the store
 * encodes next). Caching every container churned the WeakMap: a third of the time
 * went to its garbage collection.
 */
const encodeObject = (value: object, keepThis: boolean): Encoded => {
  const hit = cache.get(value);
  if (hit !== undefined) return hit;
  let json: string;
  let bytes: number;
  if (Array.isArray(value)) {
    // Arrays are leaf values, replaced whole: JSON.stringify is quickest for them.
    json = JSON.stringify(value);
    bytes = utf8Length(json);
  } else {
    json = "{";
    bytes = 2;
    let first = true;
    let flat = true; // only primitives inside
    const object = value as Record<string, JsonValue | undefined>;
    for (const key in object) {
      const v = object[key];
      if (v === undefined) continue;
      const k = keyLiteral(key);
      if (!first) {
        json += ",";
        bytes += 1;
      }
      first = false;
      json += k.json;
      bytes += k.bytes;
      switch (typeof v) {
        case "number": {
          // JSON writes non-finite numbers as null; the engine never stores them.
          const n = Number.isFinite(v) ? `${v}` : "null";
          json += n;
          bytes += n.length;
          break;
        }
        case "string": {
          const q = quote(v);
          json += q;
          bytes += utf8Length(q);
          break;
        }
        case "boolean":
          json += v ? "true" : "false";
          bytes += v ? 4 : 5;
          break;
        default: {
          if (v !== null) flat = false;
          const item = encodeValue(v);
          json += item.json;
          bytes += item.bytes;
        }
      }
    }
    json += "}";
    keepThis ||= flat;
  }
  const encoded = { json, bytes };
  if (keepThis) cache.set(value, encoded);
  return encoded;
};

const encodeValue = (value: JsonValue): Encoded => {
  if (typeof value === "object" && value !== null) return encodeObject(value, false);
  if (typeof value === "string") {
    const json = quote(value);
    return { json, bytes: utf8Length(json) };
  }
  const json = JSON.stringify(value);
  return { json, bytes: json.length };
};

/** A message value as JSON text: no byte counts, no cache, no intermediate objects. */
const write = (value: unknown): string => {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return Number.isFinite(value) ? `${value}` : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let json = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) json += ",";
          const item: unknown = value[i];
          json += skipped(item) ? "null" : write(item);
        }
        return `${json}]`;
      }
      let json = "{";
      let first = true;
      const object = value as Record<string, unknown>;
      for (const key in object) {
        const item = object[key];
        if (skipped(item)) continue;
        if (!first) json += ",";
        first = false;
        json += keyLiteral(key).json + write(item);
      }
      return `${json}}`;
    }
    default:
      return "null";
  }
};

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const skipped = (value: unknown): boolean =>
  value === undefined || typeof value === "function" || typeof value === "symbol";

/**
 * `JSON.stringify(value)` for a message: fast paths for the small objects replies are
 * (2–3× quicker than Node 20's own here), nothing cached.
 */
export const encodeJson = (value: JsonValue | object): string => write(value);

/**
 * Below this many top-level properties in desired + reported, a document is written
 * afresh: caching its leaves cost more (WeakMap upkeep and its garbage collection)
 * than re-encoding them — the shard used 13 % less CPU per write on a 3-property
 * document — while a 20-property document encodes in half the time with the cache.
 */
const LEAF_CACHE_MIN_PROPERTIES = 8;

const worthCaching = (doc: { desired?: object; reported?: object }): boolean => {
  let n = 0;
  for (const _ in doc.desired) if (++n >= LEAF_CACHE_MIN_PROPERTIES) return true;
  for (const _ in doc.reported) if (++n >= LEAF_CACHE_MIN_PROPERTIES) return true;
  return false;
};

/**
 * `JSON.stringify(doc)` for a shadow document; a large one reuses its unchanged
 * leaves' encoding.
 */
export const encodeDocument = (doc: object): string =>
  worthCaching(doc) ? encodeObject(doc, false).json : write(doc);

/** UTF-8 byte length of a document section's JSON, remembered for the next encoding. */
export const encodedByteLength = (section: object): number => encodeObject(section, true).bytes;

/** UTF-8 bytes of a string once written as a JSON literal, counted without writing it. */
const literalBytes = (s: string): number => {
  if (!NEEDS_ESCAPE.test(s) && !NON_ASCII.test(s)) return s.length + 2;
  return utf8Length(quote(s));
};

/** UTF-8 byte length of `JSON.stringify(value)`, counted without building the text. */
export const jsonByteLength = (value: JsonValue): number => {
  switch (typeof value) {
    case "string":
      return literalBytes(value);
    case "number":
      return Number.isFinite(value) ? `${value}`.length : 4;
    case "boolean":
      return value ? 4 : 5;
    default:
      break;
  }
  if (value === null) return 4;
  if (Array.isArray(value)) {
    let bytes = value.length > 1 ? value.length + 1 : 2;
    for (const item of value) bytes += skipped(item) ? 4 : jsonByteLength(item);
    return bytes;
  }
  let bytes = 1;
  const object = value as Record<string, JsonValue | undefined>;
  for (const key in object) {
    const item = object[key];
    if (skipped(item)) continue;
    bytes += literalBytes(key) + 2 + jsonByteLength(item as JsonValue); // key, colon, comma or brace
  }
  return bytes === 1 ? 2 : bytes;
};

/** JSON values as they travel through the engine. Documents are immutable: every
 * write returns new objects and shares the untouched subtrees with the old ones. */
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;
export type JsonArray = readonly JsonValue[];
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** A plain JSON object (not an array, not null). */
export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export const hasOwn = (object: object, key: string): boolean => Object.hasOwn(object, key);

export const isEmptyObject = (object: object): boolean => {
  for (const _ in object) return false;
  return true;
};

/** Structural equality of two JSON values; key order does not matter, array order does. */
export const jsonEqual = (a: JsonValue | undefined, b: JsonValue | undefined): boolean => {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as JsonObject;
  const bo = b as JsonObject;
  let count = 0;
  for (const key in ao) {
    if (!hasOwn(bo, key) || !jsonEqual(ao[key], bo[key])) return false;
    count++;
  }
  for (const _ in bo) count--;
  return count === 0;
};

/** Nesting depth: a primitive is 0, `{}`/`[]` with primitives inside is 1. */
export const jsonDepth = (value: JsonValue): number => {
  if (typeof value !== "object" || value === null) return 0;
  let max = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      const d = jsonDepth(item);
      if (d > max) max = d;
    }
  } else {
    const object = value as JsonObject;
    for (const key in object) {
      const d = jsonDepth(object[key] as JsonValue);
      if (d > max) max = d;
    }
  }
  return max + 1;
};

const stringByteLength = (s: string): number => {
  // Bytes of JSON.stringify(s) in UTF-8, without building the string.
  let bytes = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) {
      bytes += c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6;
    } else if (c === 0x22 || c === 0x5c) bytes += 2;
    else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 6; // lone surrogate: stringify escapes it as \uXXXX
    } else if (c >= 0xdc00 && c <= 0xdfff) bytes += 6;
    else bytes += 3;
  }
  return bytes;
};

/** UTF-8 byte length of `JSON.stringify(value)`, computed without allocating it. */
export const jsonByteLength = (value: JsonValue): number => {
  switch (typeof value) {
    case "string":
      return stringByteLength(value);
    case "number":
      return Number.isFinite(value) ? String(value).length : 4;
    case "boolean":
      return value ? 4 : 5;
    default:
      break;
  }
  if (value === null) return 4;
  if (Array.isArray(value)) {
    let bytes = 2 + (value.length > 0 ? value.length - 1 : 0);
    for (const item of value) bytes += jsonByteLength(item);
    return bytes;
  }
  const object = value as JsonObject;
  let bytes = 2;
  let first = true;
  for (const key in object) {
    bytes += stringByteLength(key) + 1 + jsonByteLength(object[key] as JsonValue);
    if (!first) bytes += 1;
    first = false;
  }
  return bytes;
};

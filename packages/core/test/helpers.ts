import assert from "node:assert/strict";
import type { Result, ShadowError } from "../src/index.js";

/** The value of an ok result; fails the test with the error otherwise. */
export const unwrap = <T>(result: Result<T, ShadowError>): T => {
  if (!result.ok) assert.fail(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
};

/** The error of a failed result; fails the test if it succeeded. */
export const failure = <T>(result: Result<T, ShadowError>): ShadowError => {
  if (result.ok) assert.fail("expected an error, the request was accepted");
  return result.error;
};

/** Freezes a value all the way down, so any mutation by the engine throws. */
export const deepFreeze = <T>(value: T): T => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
};

/** A round trip through JSON: what a wire or Redis would hand back. */
export const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value));

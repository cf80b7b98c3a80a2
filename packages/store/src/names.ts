import { nameProblem } from "@umbra/dialects";

/** A high surrogate not followed by a low one, or a low one not after a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a product id or device name may not be registered, or `undefined`: a name the
 * dialects accept (`nameProblem`) that also comes back unchanged through a URL path
 * segment, or the API could never address it. `.` and `..` are dot-segments (URLs
 * resolve them away, `%2e` too), and a lone UTF-16 surrogate cannot be percent-encoded.
 * Only new names are checked: a device registered before can still be removed.
 */
export const registrableNameProblem = (what: string, name: string): string | undefined => {
  const problem = nameProblem(what, name);
  if (problem !== undefined) return problem;
  if (name === "." || name === "..")
    return `${what} must not be '.' or '..' (a URL cannot address it)`;
  if (LONE_SURROGATE.test(name)) return `${what} must be well-formed Unicode (no lone surrogates)`;
  return undefined;
};

/** Thrown by the registry when asked to store what it must never hold; callers check first. */
export class RegistryRefusal extends Error {
  override readonly name = "RegistryRefusal";
}

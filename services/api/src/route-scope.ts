/**
 * The cross-tenant defence: every path parameter of every route is known to name a
 * product (checked against the caller's API key before anything is looked up) or
 * something inside one. A route with a parameter neither list knows is refused at start.
 */
import { type ApiKey, covers } from "./keys.js";
import type { Route } from "./routing.js";

/**
 * Path parameters that name a product: the caller's key must cover each one, checked
 * before anything is looked up, so a product the key does not hold answers 403 whether
 * or not the device exists. A gateway and its sub-device (`pid`, `subPid`) are both.
 */
const PRODUCT_PARAMETERS: ReadonlySet<string> = new Set(["pid", "subPid"]);
/** Path parameters naming something inside the products above (a device, a call, a service). */
const SCOPED_PARAMETERS: ReadonlySet<string> = new Set([
  "dn",
  "subDn",
  "requestId",
  "identifier",
  "fingerprint",
  "shadowName",
]);

/**
 * Refuses a route whose path has a parameter neither list above knows: a new parameter
 * naming a product must join `PRODUCT_PARAMETERS`, or it would escape the key's scope.
 */
export const checkRouteParameters = (routes: readonly Route[]): void => {
  for (const route of routes)
    for (const [, name] of route.path.matchAll(/\{(\w+)\}/g))
      if (!PRODUCT_PARAMETERS.has(name as string) && !SCOPED_PARAMETERS.has(name as string))
        throw new Error(
          `route ${route.operationId}: path parameter '${name}' is not known to name a product or not: add it to PRODUCT_PARAMETERS or SCOPED_PARAMETERS`,
        );
};

/** A product the request's path names that `key` does not cover, or `undefined`. */
export const uncoveredProduct = (
  key: ApiKey,
  params: Readonly<Record<string, string>>,
): string | undefined => {
  for (const name in params)
    if (PRODUCT_PARAMETERS.has(name) && !covers(key, params[name] as string)) return params[name];
  return undefined;
};

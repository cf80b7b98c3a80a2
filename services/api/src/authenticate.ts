/**
 * Who is calling: the API key of `Authorization: Bearer`, with failed attempts throttled
 * per source address before the key is even read, so a throttled address learns nothing
 * from its guesses.
 */
import type { IncomingMessage } from "node:http";
import type { Logger } from "@umbra/runtime";
import { type ApiKey, type AuthThrottle, addressGroup, findKey } from "./keys.js";
import type { Metrics } from "./metrics.js";
import { ProblemError, problem } from "./problems.js";

export interface AuthenticatorOptions {
  readonly keys: Map<string, ApiKey>;
  /** Failed authentications per source address; `undefined`: not throttled. */
  readonly authThrottle: AuthThrottle | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now: () => number;
}

const bearer = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
};

/** The key a request presents; 429, or 401 with `WWW-Authenticate`, when there is none. */
export const authenticator =
  (options: AuthenticatorOptions) =>
  (req: IncomingMessage): ApiKey => {
    const { keys, authThrottle, metrics, logger, now } = options;
    const address = addressGroup(req.socket.remoteAddress ?? "");
    const throttled = authThrottle?.wait(address, now()) ?? 0;
    if (throttled > 0) {
      metrics.authRefused.throttled.value++;
      throw new ProblemError(
        problem(
          "rate-limited",
          `too many requests with an invalid API key from this address; retry in ${throttled} s`,
        ),
        { "retry-after": String(throttled) },
      );
    }
    const secret = bearer(req.headers.authorization);
    if (secret === undefined) {
      metrics.authRefused["missing-key"].value++;
      throw new ProblemError(
        problem("unauthorized", "send an API key as 'Authorization: Bearer <key>'"),
        { "www-authenticate": 'Bearer realm="umbra"' },
      );
    }
    const key = findKey(keys, secret);
    if (key === undefined) {
      metrics.authRefused["invalid-key"].value++;
      // Once per address and episode, when its last attempt is used: not per request.
      if (authThrottle?.failed(address, now()) === true)
        logger.warn({ address }, "invalid API keys from this address: throttled");
      throw new ProblemError(problem("unauthorized", "the API key is not valid"), {
        "www-authenticate": 'Bearer realm="umbra", error="invalid_token"',
      });
    }
    return key;
  };

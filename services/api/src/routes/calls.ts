/**
 * What calls to devices share, whether they travel through a gateway for its sub-device
 * (seed 003) or to a device itself (thing model): the HTTP answer to a call's outcome,
 * and storing the values a property get read as the device's reported state.
 */
import type { GatewayOutcome, ShadowClient } from "@umbra/bus";
import { type DeviceId, deviceKey } from "@umbra/dialects";
import { fail, ProblemError, shadowProblem } from "../problems.js";

/** The body of a call the device (or gateway) answered with code 200. */
export interface CallAnswer {
  readonly id: string;
  readonly code: number;
  readonly msg?: string;
  readonly data?: Record<string, unknown>;
  readonly shadowVersion?: number;
}

/**
 * The HTTP answer to a call's outcome; `callee` names who was called in the details
 * ("gateway 'p/gw'", "device 'p/lamp'"). The callee's own code and msg go through: any
 * code but 200 is a 502 carrying them.
 */
export const callAnswer = (
  callee: string,
  outcome: GatewayOutcome,
  timeoutMs: number,
): CallAnswer => {
  switch (outcome.kind) {
    // Seed 003's rules, checked by the engine: more than 50 properties, a bad identifier…
    case "invalid":
      throw new ProblemError(shadowProblem(outcome.error));
    case "offline":
      return fail("gateway-offline", `${callee} is not connected`);
    case "not-delivered":
      return fail(
        "gateway-offline",
        `${callee} is connected but has not subscribed to ${outcome.topic} (or reads too slowly to take it)`,
      );
    case "timeout":
      return fail(
        "gateway-timeout",
        `${callee} did not answer call ${outcome.id} within ${timeoutMs / 1000} s`,
        { id: outcome.id },
      );
    case "bad-reply":
      return fail(
        "gateway-bad-reply",
        `${callee} answered call ${outcome.id}: ${outcome.problem}`,
        {
          id: outcome.id,
        },
      );
    case "answered": {
      const { id, code, msg, data } = outcome.reply;
      if (code !== 200)
        fail("gateway-error", `${callee} answered call ${id} with code ${code}: ${msg ?? ""}`, {
          id,
          code,
          ...(msg === undefined ? {} : { msg }),
          ...(data === undefined ? {} : { data }),
        });
      return {
        id,
        code,
        ...(msg === undefined ? {} : { msg }),
        ...(data === undefined ? {} : { data: data as Record<string, unknown> }),
      };
    }
  }
};

/**
 * A property get's answer, with the values read stored as `device`'s reported state —
 * only the identifiers asked for (a device writes no other property through a get),
 * and `shadowVersion` the version that write made. Nothing asked for in the answer:
 * nothing written. `callee` names who answered, for the problem when the shard refuses
 * the values (502: they came from the device; 503: the shard could not write).
 */
export const storeReadValues = async (
  shadows: ShadowClient,
  device: DeviceId,
  identifiers: readonly string[],
  body: CallAnswer,
  callee: string,
): Promise<CallAnswer> => {
  const reported: Record<string, unknown> = {};
  let count = 0;
  for (const identifier of identifiers)
    if (body.data !== undefined && Object.hasOwn(body.data, identifier)) {
      reported[identifier] = body.data[identifier];
      count++;
    }
  if (count === 0) return body;
  const stored = await shadows.update(deviceKey(device), { reported });
  if (!stored.ok && stored.error._tag === "Unspecified")
    throw new ProblemError(shadowProblem(stored.error));
  if (!stored.ok)
    return fail(
      "gateway-bad-reply",
      `the values read from ${callee} could not be stored as '${deviceKey(device)}' reported state: ${stored.error._tag}`,
      { ...body },
    );
  return { ...body, shadowVersion: stored.version };
};

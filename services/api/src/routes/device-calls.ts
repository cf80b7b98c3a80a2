/**
 * Calls to a device itself (OneNET thing model): property get / set and service calls
 * published on the device's own `thing/property/get|set` and
 * `thing/service/{identifier}/invoke` through its MQTT session, wherever it is, and
 * answered by its `…_reply`, matched by id. The same bodies, rules, statuses and problem
 * types as a gateway's sub-device calls (`subdevices.ts`).
 */
import type { GatewayClient, ShadowClient } from "@umbra/bus";
import { GATEWAY_CALL_TIMEOUT_MS, type GatewayRequest } from "@umbra/core";
import { type DeviceId, deviceKey, parseDeviceKey } from "@umbra/dialects";
import type { DeviceRegistry } from "@umbra/store";
import type { Schema } from "effect";
import * as G from "../gateway-schemas.js";
import { fail } from "../problems.js";
import type { RequestContext, Route } from "../routing.js";
import { type CallAnswer, callAnswer, storeReadValues } from "./calls.js";
import { DEVICE, devicePath, JSON_TYPE, problemResponses, registeredDevice } from "./common.js";

export interface DeviceCallDependencies {
  readonly registry: DeviceRegistry;
  readonly shadows: ShadowClient;
  /** Carries the calls; only `callDevice` is used. */
  readonly calls: Pick<GatewayClient, "callDevice">;
  /** How long a device has to answer, ms (the gateway calls' 5 s by default); for the messages. */
  readonly timeoutMs?: number;
}

const calleeOf = (device: DeviceId): string => `device '${deviceKey(device)}'`;

export const deviceCallRoutes = (deps: DeviceCallDependencies): Route[] => {
  const { registry, shadows, calls } = deps;
  const timeoutMs = deps.timeoutMs ?? GATEWAY_CALL_TIMEOUT_MS;

  /**
   * The path's device, registered and not a gateway's sub-device: a sub-device has no
   * session of its own to take the call (seed 003), its gateway's routes reach it.
   */
  const callee = async (ctx: RequestContext): Promise<DeviceId> => {
    const { device, record } = await registeredDevice(registry, ctx);
    const gateway = record.gateway === undefined ? undefined : parseDeviceKey(record.gateway);
    if (gateway !== undefined) {
      const through = devicePath(
        gateway,
        `/subdevices/${encodeURIComponent(device.productId)}/${encodeURIComponent(device.deviceName)}`,
      );
      fail(
        "conflict",
        `'${deviceKey(device)}' is a sub-device of gateway '${deviceKey(gateway)}': call it through ${through}/…`,
        { gateway },
      );
    }
    return device;
  };

  const send = async (
    ctx: RequestContext,
    request: GatewayRequest,
  ): Promise<{ device: DeviceId; body: CallAnswer }> => {
    const device = await callee(ctx);
    const outcome = await calls.callDevice(
      device,
      request,
      (ctx.body as { version?: string }).version,
    );
    return { device, body: callAnswer(calleeOf(device), outcome, timeoutMs) };
  };

  const callResponses = {
    200: { description: "the device's reply (code 200)", schema: G.device.Answer },
    ...problemResponses([400, 404, 409, 415, 502, 503, 504]),
  };

  /** A call route: a POSTed JSON body of `schema`, answered as a call is. */
  const callRoute = (
    path: string,
    operationId: string,
    summary: string,
    schema: Schema.Top,
    handle: Route["handle"],
  ): Route => ({
    method: "POST",
    path: `${DEVICE}/${path}`,
    operationId,
    summary,
    tag: "device calls",
    body: { contentType: JSON_TYPE, schema },
    responses: callResponses,
    handle,
  });

  return [
    callRoute(
      "properties:get",
      "getDeviceProperties",
      "Read a device's properties (thing/property/get); the values are stored as its reported state",
      G.device.PropertyGetRequest,
      async (ctx) => {
        const identifiers = (ctx.body as typeof G.device.PropertyGetRequest.Type).params;
        const { device, body } = await send(ctx, { kind: "property/get", identifiers });
        return {
          status: 200,
          body: await storeReadValues(shadows, device, identifiers, body, calleeOf(device)),
        };
      },
    ),
    callRoute(
      "properties:set",
      "setDeviceProperties",
      "Set a device's properties (thing/property/set)",
      G.device.PropertySetRequest,
      async (ctx) => {
        const properties = (ctx.body as typeof G.device.PropertySetRequest.Type).params;
        const { body } = await send(ctx, { kind: "property/set", properties });
        return { status: 200, body };
      },
    ),
    callRoute(
      "services/{identifier}:invoke",
      "invokeDeviceService",
      "Call a device's service (thing/service/{identifier}/invoke)",
      G.device.ServiceInvokeRequest,
      async (ctx) => {
        const identifier = ctx.params.identifier as string;
        const input = (ctx.body as typeof G.device.ServiceInvokeRequest.Type).input ?? {};
        const { body } = await send(ctx, { kind: "service/invoke", identifier, input });
        return { status: 200, body };
      },
    ),
  ];
};

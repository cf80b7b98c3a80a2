/**
 * Gateway sub-devices (seed 003): the topology in the registry, and property get / set
 * and service calls that travel through the gateway's MQTT session, wherever it is, and
 * come back as the gateway's `…_reply` matched by id.
 */
import {
  deviceSubject,
  encodeTopologyChanged,
  type GatewayClient,
  type NatsConnection,
  type ShadowClient,
} from "@umbra/bus";
import { GATEWAY_CALL_TIMEOUT_MS, type GatewayRequest } from "@umbra/core";
import { type DeviceId, deviceKey, parseDeviceKey } from "@umbra/dialects";
import type { DeviceRegistry } from "@umbra/store";
import * as G from "../gateway-schemas.js";
import { covers } from "../keys.js";
import { fail } from "../problems.js";
import type { Reply, RequestContext, Route } from "../routing.js";
import { type CallAnswer, callAnswer, storeReadValues } from "./calls.js";
import {
  DEVICE,
  JSON_TYPE,
  mustBeRegistered,
  pathDevice,
  problemResponses,
  registeredDevice,
} from "./common.js";

export interface SubDeviceDependencies {
  readonly registry: DeviceRegistry;
  readonly shadows: ShadowClient;
  readonly gateways: GatewayClient;
  readonly nc: NatsConnection;
  /** How long a gateway has to answer, ms (seed 003: 5 s); for the messages. */
  readonly gatewayTimeoutMs?: number;
}

const SUB = `${DEVICE}/subdevices/{subPid}/{subDn}`;

const gatewayOf = (ctx: RequestContext): DeviceId => pathDevice(ctx);

const subOf = (ctx: RequestContext): DeviceId => pathDevice(ctx, "subPid", "subDn");

const calleeOf = (gateway: DeviceId): string => `gateway '${deviceKey(gateway)}'`;

export const subDeviceRoutes = (deps: SubDeviceDependencies): Route[] => {
  const { registry, shadows, gateways, nc } = deps;

  /** A connected gateway re-reads its sub-devices (what it may publish and subscribe for). */
  const topologyChanged = (gateway: DeviceId): void => {
    nc.publish(deviceSubject(gateway.productId, gateway.deviceName), encodeTopologyChanged());
  };
  const timeoutMs = deps.gatewayTimeoutMs ?? GATEWAY_CALL_TIMEOUT_MS;

  /** The gateway and sub-device of the path, checked against the topology. */
  const callPair = async (ctx: RequestContext): Promise<{ gateway: DeviceId; sub: DeviceId }> => {
    const gateway = gatewayOf(ctx);
    const sub = subOf(ctx);
    await mustBeRegistered(registry, gateway);
    if (!(await registry.isSubDevice(deviceKey(gateway), deviceKey(sub))))
      fail(
        "not-sub-device",
        `'${deviceKey(sub)}' is not a registered sub-device of gateway '${deviceKey(gateway)}'`,
      );
    return { gateway, sub };
  };

  const send = async (
    ctx: RequestContext,
    request: GatewayRequest,
  ): Promise<{ gateway: DeviceId; sub: DeviceId; body: CallAnswer }> => {
    const { gateway, sub } = await callPair(ctx);
    const outcome = await gateways.call(
      gateway,
      sub,
      request,
      (ctx.body as { version?: string }).version,
    );
    return { gateway, sub, body: callAnswer(calleeOf(gateway), outcome, timeoutMs) };
  };

  const callResponses = {
    200: { description: "the gateway's reply (code 200)", schema: G.GatewayAnswer },
    ...problemResponses([400, 404, 409, 415, 502, 503, 504]),
  };

  return [
    {
      method: "GET",
      path: `${DEVICE}/subdevices`,
      operationId: "listSubDevices",
      summary: "A gateway's registered sub-devices (of the products the API key covers)",
      tag: "gateways",
      responses: {
        200: { description: "the sub-devices", schema: G.SubDeviceList },
        ...problemResponses([404]),
      },
      handle: async (ctx) => {
        const { key: gateway } = await registeredDevice(registry, ctx);
        const keys = await registry.subDevices(gateway);
        const subDevices: DeviceId[] = [];
        for (const key of keys) {
          const sub = parseDeviceKey(key);
          // Another product's device names are that product's business.
          if (sub !== undefined && (ctx.key === undefined || covers(ctx.key, sub.productId)))
            subDevices.push(sub);
        }
        return { status: 200, body: { subDevices } };
      },
    },
    {
      method: "PUT",
      path: SUB,
      operationId: "attachSubDevice",
      summary:
        "Register a device as a sub-device of a gateway (both registered; a sub-device has one gateway)",
      tag: "gateways",
      responses: {
        201: { description: "registered under the gateway", schema: G.SubDevice },
        200: { description: "it already was", schema: G.SubDevice },
        ...problemResponses([400, 404, 409]),
      },
      handle: async (ctx): Promise<Reply> => {
        const gateway = gatewayOf(ctx);
        const sub = subOf(ctx);
        if (deviceKey(gateway) === deviceKey(sub))
          fail("bad-request", "a device cannot be its own sub-device");
        const outcome = await registry.attach(deviceKey(gateway), deviceKey(sub));
        if (outcome === "missing") {
          await mustBeRegistered(registry, gateway);
          await mustBeRegistered(registry, sub);
          fail("unknown-device", `no device '${deviceKey(sub)}'`);
        }
        if (outcome === "other-gateway") {
          const other = (await registry.get(deviceKey(sub)))?.gateway ?? "another gateway";
          fail(
            "conflict",
            `'${deviceKey(sub)}' is a sub-device of '${other}'; remove it there first`,
          );
        }
        topologyChanged(gateway);
        return {
          status: outcome === "attached" ? 201 : 200,
          body: { gateway, ...sub },
        };
      },
    },
    {
      method: "DELETE",
      path: SUB,
      operationId: "detachSubDevice",
      summary: "Take a sub-device off its gateway (the device stays registered)",
      tag: "gateways",
      responses: { 204: { description: "removed" }, ...problemResponses([404]) },
      handle: async (ctx) => {
        const gateway = gatewayOf(ctx);
        const sub = subOf(ctx);
        if (!(await registry.detach(deviceKey(gateway), deviceKey(sub))))
          fail(
            "not-sub-device",
            `'${deviceKey(sub)}' is not a registered sub-device of gateway '${deviceKey(gateway)}'`,
          );
        topologyChanged(gateway);
        return { status: 204 };
      },
    },
    {
      method: "POST",
      path: `${SUB}/properties:get`,
      operationId: "getSubDeviceProperties",
      summary:
        "Read sub-device properties through its gateway (thing/sub/property/get); the values are stored as the sub-device's reported state",
      tag: "gateways",
      body: { contentType: JSON_TYPE, schema: G.PropertyGetRequest },
      responses: callResponses,
      handle: async (ctx) => {
        const identifiers = (ctx.body as typeof G.PropertyGetRequest.Type).params;
        const { gateway, sub, body } = await send(ctx, { kind: "property/get", identifiers });
        return {
          status: 200,
          body: await storeReadValues(shadows, sub, identifiers, body, calleeOf(gateway)),
        };
      },
    },
    {
      method: "POST",
      path: `${SUB}/properties:set`,
      operationId: "setSubDeviceProperties",
      summary: "Set sub-device properties through its gateway (thing/sub/property/set)",
      tag: "gateways",
      body: { contentType: JSON_TYPE, schema: G.PropertySetRequest },
      responses: callResponses,
      handle: async (ctx) => {
        const properties = (ctx.body as typeof G.PropertySetRequest.Type).params;
        const { body } = await send(ctx, { kind: "property/set", properties });
        return { status: 200, body };
      },
    },
    {
      method: "POST",
      path: `${SUB}/services/{identifier}:invoke`,
      operationId: "invokeSubDeviceService",
      summary: "Call a sub-device service through its gateway (thing/sub/service/invoke)",
      tag: "gateways",
      body: { contentType: JSON_TYPE, schema: G.ServiceInvokeRequest },
      responses: callResponses,
      handle: async (ctx) => {
        const identifier = ctx.params.identifier as string;
        const input = (ctx.body as typeof G.ServiceInvokeRequest.Type).input ?? {};
        const { gateway, sub, body } = await send(ctx, {
          kind: "service/invoke",
          identifier,
          input,
        });
        // A gateway answers only for the sub-device it was asked about.
        const named = body.data as { productID?: unknown; deviceName?: unknown } | undefined;
        if (
          named !== undefined &&
          ((named.productID !== undefined && named.productID !== sub.productId) ||
            (named.deviceName !== undefined && named.deviceName !== sub.deviceName))
        )
          fail(
            "gateway-bad-reply",
            `gateway '${deviceKey(gateway)}' answered call ${body.id} for '${String(named.productID)}/${String(named.deviceName)}', not for its sub-device '${deviceKey(sub)}'`,
            { id: body.id },
          );
        return { status: 200, body };
      },
    },
  ];
};

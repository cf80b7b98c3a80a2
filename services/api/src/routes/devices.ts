/**
 * The device registry: a product's devices, their keys (answered only on creation and
 * rotation) and OneNET tokens signed with them. Deleting a device or rotating its key
 * closes its MQTT session, wherever it is.
 */
import { deviceSubject, encodeTakeover, encodeTopologyChanged } from "@umbra/bus";
import {
  type DeviceId,
  deviceKey,
  nameProblem,
  newDeviceKey,
  parseDeviceKey,
  signOneNetToken,
  type TokenMethod,
} from "@umbra/dialects";
import { registrableNameProblem } from "@umbra/store";
import { fail } from "../problems.js";
import type { Route } from "../routing.js";
import * as S from "../schemas.js";
import {
  type ApiDependencies,
  DEVICE,
  devicePath,
  JSON_TYPE,
  pidOf,
  problemResponses,
  productMustExist,
  registeredDevice,
  unknownDevice,
} from "./common.js";
import { problemOf } from "./documents.js";

const DEFAULT_TOKEN_SECONDS = 365 * 86_400;

export const deviceRoutes = (
  deps: Pick<ApiDependencies, "registry" | "shadows" | "nc" | "now" | "shadowNames">,
): Route[] => {
  const { registry, shadows, nc, now, shadowNames } = deps;

  /** Closes the device's MQTT session, wherever it is (the take-over an edge honours). */
  const disconnect = (device: DeviceId): void => {
    nc.publish(deviceSubject(device.productId, device.deviceName), encodeTakeover(`api:${now()}`));
  };

  return [
    {
      method: "GET",
      path: "/v1/products/{pid}/devices",
      operationId: "listDevices",
      summary: "List a product's devices, by name, a page at a time",
      tag: "registry",
      query: [
        {
          name: "limit",
          description: "devices per page, 1–1000 (default 100)",
          schema: { type: "integer", minimum: 1, maximum: 1000 },
        },
        {
          name: "after",
          description: "the `next` of the previous page",
          schema: { type: "string" },
        },
      ],
      responses: {
        200: { description: "a page of device names", schema: S.DevicePage },
        ...problemResponses([400, 404]),
      },
      handle: async (ctx) => {
        const pid = pidOf(ctx);
        const limitText = ctx.query.get("limit");
        const limit = limitText === null ? 100 : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
          fail("bad-request", "limit must be an integer from 1 to 1000");
        await productMustExist(registry, pid);
        const after = ctx.query.get("after");
        const names = await registry.list(pid);
        let start = 0;
        if (after !== null) {
          while (start < names.length && (names[start] as string) <= after) start++;
        }
        const page = names.slice(start, start + limit);
        const next = start + limit < names.length ? (page[page.length - 1] ?? null) : null;
        return { status: 200, body: { devices: page, next } };
      },
    },
    {
      method: "POST",
      path: "/v1/products/{pid}/devices",
      operationId: "createDevice",
      summary: "Register a device: answers its key, shown only here and on rotation",
      tag: "registry",
      body: { contentType: JSON_TYPE, schema: S.DeviceCreate },
      responses: {
        201: { description: "registered", schema: S.DeviceKey },
        ...problemResponses([400, 404, 409, 415]),
      },
      handle: async (ctx) => {
        const pid = pidOf(ctx);
        const { name } = ctx.body as typeof S.DeviceCreate.Type;
        const problem = registrableNameProblem("device name", name);
        if (problem !== undefined) fail("bad-request", problem);
        await productMustExist(registry, pid);
        const key = newDeviceKey();
        const at = now();
        if (!(await registry.add(pid, name, key, at)))
          fail("conflict", `device '${name}' exists in product '${pid}'`);
        return {
          status: 201,
          body: { productId: pid, deviceName: name, createdAt: at, key },
          headers: { location: devicePath({ productId: pid, deviceName: name }) },
        };
      },
    },
    {
      method: "GET",
      path: DEVICE,
      operationId: "getDevice",
      summary: "A registered device (without its key)",
      tag: "registry",
      responses: {
        200: { description: "the device", schema: S.Device },
        ...problemResponses([404]),
      },
      handle: async (ctx) => {
        const { device, record } = await registeredDevice(registry, ctx);
        return { status: 200, body: { ...device, createdAt: record.createdAt } };
      },
    },
    {
      method: "DELETE",
      path: DEVICE,
      operationId: "deleteDevice",
      summary: "Delete a device: it is disconnected and its shadows (classic and named) removed",
      tag: "registry",
      responses: { 204: { description: "deleted" }, ...problemResponses([404, 503]) },
      handle: async (ctx) => {
        const device = { productId: pidOf(ctx), deviceName: ctx.params.dn as string };
        const key = deviceKey(device);
        // No new connections, then the open session closed, then the shadow removed. A
        // retry after a failed shadow removal finds the device gone and removes the shadow,
        // which is why an unregistered device is not refused up front.
        const named = nameProblem("device name", device.deviceName) === undefined;
        // A sub-device's gateway stops acting for it.
        const gateway = named ? (await registry.get(key))?.gateway : undefined;
        const registered = named && (await registry.remove(device.productId, device.deviceName));
        if (registered) disconnect(device);
        const gatewayId = gateway === undefined ? undefined : parseDeviceKey(gateway);
        if (gatewayId !== undefined)
          nc.publish(
            deviceSubject(gatewayId.productId, gatewayId.deviceName),
            encodeTopologyChanged(),
          );
        // Named shadows before the classic one: the classic one's 404 below is how a
        // repeated delete of a device that is gone ends, and it must not end a retry
        // before the named shadows a failed attempt left are removed too.
        if (named)
          for (const name of await shadowNames(key)) {
            const removed = await shadows.delete(key, undefined, name);
            if (!removed.ok && removed.error._tag !== "ShadowNotFound") problemOf(removed);
          }
        const reply = await shadows.delete(key);
        if (!registered && !reply.ok && reply.error._tag === "ShadowNotFound")
          unknownDevice(device);
        if (!reply.ok && reply.error._tag !== "ShadowNotFound") problemOf(reply);
        return { status: 204 };
      },
    },
    {
      method: "POST",
      path: `${DEVICE}/key`,
      operationId: "rotateDeviceKey",
      summary: "Give a device a new key: old tokens stop working and its session is closed",
      tag: "registry",
      responses: {
        200: { description: "the new key", schema: S.DeviceKey },
        ...problemResponses([404]),
      },
      handle: async (ctx) => {
        const { device, key, record } = await registeredDevice(registry, ctx);
        const secret = newDeviceKey();
        if (!(await registry.setKey(key, secret))) fail("unknown-device", `no device ${key}`);
        disconnect(device);
        return { status: 200, body: { ...device, createdAt: record.createdAt, key: secret } };
      },
    },
    {
      method: "POST",
      path: `${DEVICE}/token`,
      operationId: "issueDeviceToken",
      summary: "Issue a OneNET token (the device's MQTT password)",
      tag: "registry",
      body: { contentType: JSON_TYPE, schema: S.TokenRequest },
      responses: {
        200: { description: "the token", schema: S.DeviceToken },
        ...problemResponses([400, 404, 415]),
      },
      handle: async (ctx) => {
        const { device, record } = await registeredDevice(registry, ctx);
        const request = ctx.body as typeof S.TokenRequest.Type;
        const expiresAt = Math.floor(now() / 1000) + (request.expiresIn ?? DEFAULT_TOKEN_SECONDS);
        const token = signOneNetToken(device, {
          key: record.key,
          expiresAt,
          method: (request.method ?? "sha256") as TokenMethod,
        });
        return { status: 200, body: { token, expiresAt } };
      },
    },
  ];
};

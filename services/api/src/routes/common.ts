/**
 * What the resource modules share: their dependencies, the device path, and the one
 * check that a path's product or device exists (a name no device can have answers the
 * same 404 as an unregistered one).
 */
import type { NatsConnection, ShadowClient } from "@umbra/bus";
import { type DeviceId, deviceKey, nameProblem } from "@umbra/dialects";
import type { DeviceRecord, DeviceRegistry, Presence } from "@umbra/store";
import type { EventStreams } from "../events/streams.js";
import { fail } from "../problems.js";
import type { RequestContext } from "../routing.js";
import * as S from "../schemas.js";
import type { ShadowNameReader } from "./named-shadows.js";

export interface ApiDependencies {
  readonly shadows: ShadowClient;
  readonly registry: DeviceRegistry;
  /** Whether a device has a live MQTT session (written by the edges). */
  readonly presence?: Presence | undefined;
  readonly nc: NatsConnection;
  /** The names of a device's named shadows (read from Redis, where the shard keeps them). */
  readonly shadowNames: ShadowNameReader;
  /** Serves the event streams (Server-Sent Events). */
  readonly events: EventStreams;
  readonly now: () => number;
  /**
   * How long a finished function call stays readable, ms (`FUNCTION_RETENTION_S`);
   * kept with each call. Default `DEFAULT_FUNCTION_RETENTION_MS`.
   */
  readonly functionRetentionMs?: number;
}

export const JSON_TYPE = "application/json";

export const DEVICE = "/v1/products/{pid}/devices/{dn}";

/** The URL of a device (`DEVICE` filled in), or of something below it. */
export const devicePath = (device: DeviceId, below = ""): string =>
  `/v1/products/${encodeURIComponent(device.productId)}/devices/${encodeURIComponent(device.deviceName)}${below}`;

export const problemResponses = (statuses: readonly number[]) => {
  const out: Record<number, { description: string; schema: typeof S.Problem }> = {};
  const descriptions: Record<number, string> = {
    400: "bad request (problem document)",
    404: "unknown product, device or shadow",
    409: "conflict",
    412: "If-Match names a version the shadow is not at",
    413: "body too large",
    415: "wrong content type",
    502: "the gateway or device answered with an error or an invalid reply",
    503: "the cluster did not answer",
    504: "the gateway or device did not answer in time",
  };
  for (const status of statuses)
    out[status] = { description: descriptions[status] ?? "problem", schema: S.Problem };
  return out;
};

/** The path's product id, checked as a name (not yet as registered). */
export const pidOf = (ctx: RequestContext): string => {
  const pid = ctx.params.pid as string;
  if (nameProblem("product id", pid) !== undefined)
    return fail("unknown-product", `no product '${pid}'`);
  return pid;
};

export const productMustExist = async (registry: DeviceRegistry, pid: string): Promise<void> => {
  if ((await registry.getProduct(pid)) === undefined)
    fail("unknown-product", `no product '${pid}'`);
};

/** The 404 of a device that is not registered (or cannot be, by its names). */
export const unknownDevice = (device: DeviceId): never =>
  fail("unknown-device", `no device '${device.deviceName}' in product '${device.productId}'`);

/**
 * The device a path names, checked as names (not yet as registered): `pid` and `dn`,
 * or a sub-device's `subPid` and `subDn`.
 */
export const pathDevice = (ctx: RequestContext, pid = "pid", dn = "dn"): DeviceId => {
  const device = { productId: ctx.params[pid] as string, deviceName: ctx.params[dn] as string };
  if (
    nameProblem("product id", device.productId) !== undefined ||
    nameProblem("device name", device.deviceName) !== undefined
  )
    return unknownDevice(device);
  return device;
};

/** The device's registry record; a device that is not registered is a 404. */
export const mustBeRegistered = async (
  registry: DeviceRegistry,
  device: DeviceId,
): Promise<DeviceRecord> => (await registry.get(deviceKey(device))) ?? unknownDevice(device);

/** A registered device: its names, its key (`pid/dn`) and its registry record. */
export interface Registered {
  readonly device: DeviceId;
  readonly key: string;
  readonly record: DeviceRecord;
}

/**
 * The device the path names (`pid`, `dn`), which must be registered: the one check
 * every route about an existing device makes before anything else of the device.
 */
export const registeredDevice = async (
  registry: DeviceRegistry,
  ctx: RequestContext,
): Promise<Registered> => {
  const device = pathDevice(ctx);
  const record = await mustBeRegistered(registry, device);
  return { device, key: deviceKey(device), record };
};

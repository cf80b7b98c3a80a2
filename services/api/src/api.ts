/**
 * The route table: every operation of the API with its schemas and its handler. The
 * router, the body validation and the OpenAPI document all read this one table.
 */
import {
  type CommandReply,
  deviceSubject,
  type ExpectedVersion,
  encodeTakeover,
  encodeTopologyChanged,
  type NatsConnection,
  type ShadowClient,
} from "@umbra/bus";
import {
  DEFAULT_FUNCTION_RETENTION_MS,
  type ShadowDocument as Doc,
  type FunctionCall,
  renderAliyunDocument,
  renderAwsGetAccepted,
  renderOneNetGetAccepted,
  renderTwin,
} from "@umbra/core";
import {
  nameProblem,
  newDeviceKey,
  parseDeviceKey,
  signOneNetToken,
  type TokenMethod,
} from "@umbra/dialects";
import { type DeviceRegistry, type Presence, registrableNameProblem } from "@umbra/store";
import { type EventId, type EventStreams, parseEventId } from "./events.js";
import * as F from "./function-schemas.js";
import { covers } from "./keys.js";
import { fail, ProblemError, shadowProblem } from "./problems.js";
import type { Reply, RequestContext, Route } from "./routing.js";
import * as S from "./schemas.js";

export interface ApiDependencies {
  readonly shadows: ShadowClient;
  readonly registry: DeviceRegistry;
  /** Whether a device has a live MQTT session (written by the edges). */
  readonly presence?: Presence | undefined;
  readonly nc: NatsConnection;
  /** Serves the event streams (Server-Sent Events). */
  readonly events: EventStreams;
  readonly now: () => number;
  /**
   * How long a finished function call stays readable, ms (`FUNCTION_RETENTION_S`);
   * kept with each call. Default `DEFAULT_FUNCTION_RETENTION_MS`.
   */
  readonly functionRetentionMs?: number;
}

export const VIEWS = ["canonical", "onenet", "aliyun", "aws", "twin"] as const;
export type View = (typeof VIEWS)[number];

const MERGE_PATCH = "application/merge-patch+json";
const JSON_PATCH = "application/json-patch+json";
const JSON_TYPE = "application/json";
const DEFAULT_TOKEN_SECONDS = 365 * 86_400;

export const DEVICE = "/v1/products/{pid}/devices/{dn}";

/** A function call as the API shows it: the stored call, and its place in the queue. */
const callView = (doc: Doc, call: FunctionCall): typeof F.FunctionCall.Type => {
  const { retentionMs: _kept, ...shown } = call;
  if (call.status !== "pending") return shown;
  let position = 0;
  for (const c of doc.functions ?? []) {
    if (c === call) break;
    if (c.status === "pending") position++;
  }
  return { ...shown, position };
};

/**
 * `ETag: "7"` for version 7; `"2:7"` for version 7 of a shadow an Alibaba device reset
 * twice. A reset takes the version back to 0, so the number alone repeats; with the
 * epoch an ETag taken before a reset never matches after it (no lost update).
 */
export const etag = (doc: Pick<Doc, "version" | "epoch">): string =>
  doc.epoch === undefined ? `"${doc.version}"` : `"${doc.epoch}:${doc.version}"`;

/**
 * The version (and reset epoch) an `If-Match` header asks for: `undefined` when absent
 * or `*`. Only the ETags this API hands out (`"7"`, `"2:7"`, weak `W/"7"` too) can match.
 */
export const parseIfMatch = (
  header: string | string[] | undefined,
): ExpectedVersion | undefined => {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(",") : header).trim();
  if (value === "*") return undefined;
  const match = /^(?:W\/)?"(?:(\d{1,16}):)?(\d{1,16})"$/.exec(value);
  const epoch = Number(match?.[1] ?? 0);
  const version = Number(match?.[2]);
  if (match === null || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(version))
    return fail("bad-request", 'If-Match must be one ETag this API issued, like "7", or *');
  return { version, epoch };
};

const problemOf = (reply: CommandReply & { ok: false }): never => {
  throw new ProblemError(shadowProblem(reply.error));
};

/** The document of a successful reply; a refused one becomes its problem. */
const documentOf = (reply: CommandReply): Doc => {
  if (!reply.ok) return problemOf(reply);
  if (reply.document === undefined) return fail("internal", "the shard sent no document");
  return reply.document;
};

export const renderView = (doc: Doc, view: View, now: number): unknown => {
  switch (view) {
    case "canonical":
      return doc;
    case "onenet":
      return renderOneNetGetAccepted(doc, now);
    case "aliyun":
      return renderAliyunDocument(doc);
    case "aws":
      return renderAwsGetAccepted(doc, now);
    case "twin":
      return renderTwin(doc);
  }
};

export const problemResponses = (statuses: readonly number[]) => {
  const out: Record<number, { description: string; schema: typeof S.Problem }> = {};
  const descriptions: Record<number, string> = {
    400: "bad request (problem document)",
    404: "unknown product, device or shadow",
    409: "conflict",
    412: "If-Match names a version the shadow is not at",
    413: "body too large",
    415: "wrong content type",
    502: "the gateway answered with an error or an invalid reply",
    503: "the cluster did not answer",
    504: "the gateway did not answer in time",
  };
  for (const status of statuses)
    out[status] = { description: descriptions[status] ?? "problem", schema: S.Problem };
  return out;
};

const ifMatchHeader = [
  {
    name: "If-Match",
    description:
      'the ETag of the version the shadow must be at ("7", or "2:7" after Alibaba resets); otherwise 412',
    schema: { type: "string" },
  },
] as const;

/**
 * The last event a client saw: `Last-Event-ID` (sent by EventSource on reconnecting), else
 * `?after=` (for a client that kept the id across page loads, as EventSource cannot set
 * headers). `undefined`: start with new events.
 */
export const lastEventIdOf = (ctx: RequestContext): EventId | undefined => {
  const header = ctx.headers["last-event-id"];
  const text = (Array.isArray(header) ? header[0] : header) ?? ctx.query.get("after") ?? undefined;
  if (text === undefined || text.trim() === "") return undefined;
  const id = parseEventId(text);
  if (id === undefined)
    return fail(
      "bad-request",
      "Last-Event-ID (or after) must be an event id this API sent, like 12.3",
    );
  return id;
};

const eventStreamQuery = [
  {
    name: "after",
    description: "resume after this event id when no Last-Event-ID header is sent",
    schema: { type: "string", pattern: "^[0-9]+\\.[0-9]+$" },
  },
] as const;

const lastEventIdHeader = [
  {
    name: "Last-Event-ID",
    description:
      "the id of the last event received: the stream resumes right after it (within the retention window)",
    schema: { type: "string" },
  },
] as const;

const eventStreamResponse = (what: string) => ({
  description: `Server-Sent Events: a \`change\` event (id \`{sequence}.{index}\`) per accepted write of ${what}, a \`missed\` event first when events after Last-Event-ID are no longer kept, a comment every 15 s`,
  contentType: "text/event-stream",
  events: { change: S.AppEvent, missed: S.MissedEvents },
});

export const pidOf = (ctx: RequestContext): string => {
  const pid = ctx.params.pid as string;
  if (nameProblem("product id", pid) !== undefined)
    return fail("unknown-product", `no product '${pid}'`);
  return pid;
};

/** Builds the API's routes over its dependencies. */
export const apiRoutes = (deps: ApiDependencies): Route[] => {
  const { shadows, registry, nc, events, now } = deps;
  const retentionMs = deps.functionRetentionMs ?? DEFAULT_FUNCTION_RETENTION_MS;

  /** The device of the path, which must be registered: its key `pid/dn`. */
  const registeredDevice = async (ctx: RequestContext): Promise<string> => {
    const pid = ctx.params.pid as string;
    const dn = ctx.params.dn as string;
    const key = `${pid}/${dn}`;
    if (
      nameProblem("product id", pid) !== undefined ||
      nameProblem("device name", dn) !== undefined ||
      (await registry.get(key)) === undefined
    )
      return fail("unknown-device", `no device '${dn}' in product '${pid}'`);
    return key;
  };

  const productMustExist = async (pid: string): Promise<void> => {
    if ((await registry.getProduct(pid)) === undefined)
      fail("unknown-product", `no product '${pid}'`);
  };

  /** Closes the device's MQTT session, wherever it is (the take-over an edge honours). */
  const disconnect = (pid: string, dn: string): void => {
    nc.publish(deviceSubject(pid, dn), encodeTakeover(`api:${now()}`));
  };

  const withEtag = (doc: Doc, body: unknown, status = 200): Reply => ({
    status,
    body,
    headers: { etag: etag(doc) },
  });

  return [
    // Products
    {
      method: "GET",
      path: "/v1/products",
      operationId: "listProducts",
      summary: "List the products the API key covers",
      tag: "registry",
      responses: { 200: { description: "product ids", schema: S.ProductList } },
      handle: async (ctx) => {
        const all = await registry.listProducts();
        const key = ctx.key;
        return {
          status: 200,
          body: { products: key === undefined ? all : all.filter((p) => covers(key, p)) },
        };
      },
    },
    {
      method: "POST",
      path: "/v1/products",
      operationId: "createProduct",
      summary: "Create a product",
      tag: "registry",
      body: { contentType: JSON_TYPE, schema: S.ProductCreate },
      responses: {
        201: { description: "created", schema: S.Product },
        ...problemResponses([400, 409, 415]),
      },
      handle: async (ctx) => {
        const { id } = ctx.body as typeof S.ProductCreate.Type;
        if (ctx.key !== undefined && !covers(ctx.key, id))
          fail("forbidden", `the API key does not cover product '${id}'`);
        const problem = registrableNameProblem("product id", id);
        if (problem !== undefined) fail("bad-request", problem);
        const at = now();
        if (!(await registry.addProduct(id, at))) fail("conflict", `product '${id}' exists`);
        return {
          status: 201,
          body: { productId: id, createdAt: at },
          headers: { location: `/v1/products/${encodeURIComponent(id)}` },
        };
      },
    },
    {
      method: "GET",
      path: "/v1/products/{pid}",
      operationId: "getProduct",
      summary: "A product",
      tag: "registry",
      responses: {
        200: { description: "the product", schema: S.Product },
        ...problemResponses([404]),
      },
      handle: async (ctx) => {
        const product = await registry.getProduct(pidOf(ctx));
        if (product === undefined) return fail("unknown-product", `no product '${ctx.params.pid}'`);
        return { status: 200, body: product };
      },
    },
    {
      method: "DELETE",
      path: "/v1/products/{pid}",
      operationId: "deleteProduct",
      summary: "Delete a product that has no devices left",
      tag: "registry",
      responses: { 204: { description: "deleted" }, ...problemResponses([404, 409]) },
      handle: async (ctx) => {
        const pid = pidOf(ctx);
        const outcome = await registry.removeProduct(pid);
        if (outcome === "missing") fail("unknown-product", `no product '${pid}'`);
        if (outcome === "has-devices")
          fail("conflict", `product '${pid}' still has devices: delete them first`);
        return { status: 204 };
      },
    },
    // Devices
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
        await productMustExist(pid);
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
        await productMustExist(pid);
        const key = newDeviceKey();
        const at = now();
        if (!(await registry.add(pid, name, key, at)))
          fail("conflict", `device '${name}' exists in product '${pid}'`);
        return {
          status: 201,
          body: { productId: pid, deviceName: name, createdAt: at, key },
          headers: {
            location: `/v1/products/${encodeURIComponent(pid)}/devices/${encodeURIComponent(name)}`,
          },
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
        const key = await registeredDevice(ctx);
        const record = await registry.get(key);
        if (record === undefined) return fail("unknown-device", `no device ${key}`);
        return {
          status: 200,
          body: {
            productId: ctx.params.pid,
            deviceName: ctx.params.dn,
            createdAt: record.createdAt,
          },
        };
      },
    },
    {
      method: "DELETE",
      path: DEVICE,
      operationId: "deleteDevice",
      summary: "Delete a device: it is disconnected and its shadow removed",
      tag: "registry",
      responses: { 204: { description: "deleted" }, ...problemResponses([404, 503]) },
      handle: async (ctx) => {
        const pid = pidOf(ctx);
        const dn = ctx.params.dn as string;
        const key = `${pid}/${dn}`;
        // No new connections, then the open session closed, then the shadow removed. A
        // retry after a failed shadow removal finds the device gone and removes the shadow.
        const named = nameProblem("device name", dn) === undefined;
        // A sub-device's gateway stops acting for it.
        const gateway = named ? (await registry.get(key))?.gateway : undefined;
        const registered = named && (await registry.remove(pid, dn));
        if (registered) disconnect(pid, dn);
        const gatewayId = gateway === undefined ? undefined : parseDeviceKey(gateway);
        if (gatewayId !== undefined)
          nc.publish(
            deviceSubject(gatewayId.productId, gatewayId.deviceName),
            encodeTopologyChanged(),
          );
        const reply = await shadows.delete(key);
        if (!registered && !reply.ok && reply.error._tag === "ShadowNotFound")
          fail("unknown-device", `no device '${dn}' in product '${pid}'`);
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
        const key = await registeredDevice(ctx);
        const secret = newDeviceKey();
        if (!(await registry.setKey(key, secret))) fail("unknown-device", `no device ${key}`);
        const pid = ctx.params.pid as string;
        const dn = ctx.params.dn as string;
        disconnect(pid, dn);
        const record = await registry.get(key);
        return {
          status: 200,
          body: { productId: pid, deviceName: dn, createdAt: record?.createdAt ?? 0, key: secret },
        };
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
        const key = await registeredDevice(ctx);
        const request = ctx.body as typeof S.TokenRequest.Type;
        const record = await registry.get(key);
        if (record === undefined) return fail("unknown-device", `no device ${key}`);
        const expiresAt = Math.floor(now() / 1000) + (request.expiresIn ?? DEFAULT_TOKEN_SECONDS);
        const token = signOneNetToken(
          { productId: ctx.params.pid as string, deviceName: ctx.params.dn as string },
          { key: record.key, expiresAt, method: (request.method ?? "sha256") as TokenMethod },
        );
        return { status: 200, body: { token, expiresAt } };
      },
    },
    // Shadow
    {
      method: "GET",
      path: `${DEVICE}/shadow`,
      operationId: "getShadow",
      summary: "The device's shadow: canonical (seed 001) or in a dialect's format",
      tag: "shadow",
      query: [
        {
          name: "view",
          description: "canonical (default), onenet, aliyun, aws or twin",
          schema: { type: "string", enum: [...VIEWS] },
        },
      ],
      responses: {
        200: {
          description: "the shadow; ETag is its version",
          schema: S.ShadowDocument,
          headers: { ETag: 'the shadow\'s version, quoted ("7"; "2:7" after two Alibaba resets)' },
        },
        ...problemResponses([400, 404, 503]),
      },
      handle: async (ctx) => {
        const view = (ctx.query.get("view") ?? "canonical") as View;
        if (!VIEWS.includes(view)) fail("bad-request", `view must be one of ${VIEWS.join(", ")}`);
        const doc = documentOf(await shadows.get(await registeredDevice(ctx)));
        return withEtag(doc, renderView(doc, view, now()));
      },
    },
    {
      method: "PATCH",
      path: `${DEVICE}/shadow`,
      operationId: "updateShadow",
      summary: "Change desired with a JSON merge patch (null deletes a key)",
      tag: "shadow",
      requestHeaders: ifMatchHeader,
      body: { contentType: MERGE_PATCH, schema: S.ShadowPatch },
      responses: {
        200: {
          description: "the shadow after the change; ETag is its version",
          schema: S.ShadowDocument,
          headers: { ETag: 'the shadow\'s version, quoted ("7"; "2:7" after two Alibaba resets)' },
        },
        ...problemResponses([400, 404, 412, 413, 415, 503]),
      },
      handle: async (ctx) => {
        const expected = parseIfMatch(ctx.headers["if-match"]);
        const key = await registeredDevice(ctx);
        const { desired } = ctx.body as typeof S.ShadowPatch.Type;
        const doc = documentOf(await shadows.update(key, { desired }, expected));
        return withEtag(doc, doc);
      },
    },
    {
      method: "DELETE",
      path: `${DEVICE}/shadow`,
      operationId: "deleteShadow",
      summary: "Delete the device's shadow (its next write starts a new one)",
      tag: "shadow",
      requestHeaders: ifMatchHeader,
      responses: { 204: { description: "deleted" }, ...problemResponses([404, 412, 503]) },
      handle: async (ctx) => {
        const expected = parseIfMatch(ctx.headers["if-match"]);
        const reply = await shadows.delete(await registeredDevice(ctx), expected);
        if (!reply.ok) problemOf(reply);
        return { status: 204 };
      },
    },
    // Event streams
    {
      method: "GET",
      path: "/v1/products/{pid}/events",
      operationId: "streamProductEvents",
      summary: "The product's accepted changes and deltas as they happen (Server-Sent Events)",
      tag: "events",
      query: eventStreamQuery,
      requestHeaders: lastEventIdHeader,
      responses: {
        200: eventStreamResponse("any of the product's devices"),
        ...problemResponses([400, 404, 503]),
      },
      handle: async (ctx) => {
        const pid = pidOf(ctx);
        const after = lastEventIdOf(ctx);
        await productMustExist(pid);
        return { status: 200, stream: await events.prepare({ productId: pid, after }) };
      },
    },
    {
      method: "GET",
      path: `${DEVICE}/events`,
      operationId: "streamDeviceEvents",
      summary: "The device's accepted changes and deltas as they happen (Server-Sent Events)",
      tag: "events",
      query: eventStreamQuery,
      requestHeaders: lastEventIdHeader,
      responses: {
        200: eventStreamResponse("the device"),
        ...problemResponses([400, 404, 503]),
      },
      handle: async (ctx) => {
        const after = lastEventIdOf(ctx);
        await registeredDevice(ctx);
        return {
          status: 200,
          stream: await events.prepare({
            productId: ctx.params.pid as string,
            deviceName: ctx.params.dn as string,
            after,
          }),
        };
      },
    },
    // Digital twin
    {
      method: "GET",
      path: `${DEVICE}/twin`,
      operationId: "getTwin",
      summary: "The device's digital twin (IoT Plug and Play shape, seed 004)",
      tag: "twin",
      responses: {
        200: {
          description: "the twin; ETag is the shadow's version",
          schema: S.DigitalTwin,
          headers: { ETag: 'the shadow\'s version, quoted ("7"; "2:7" after two Alibaba resets)' },
        },
        ...problemResponses([404, 503]),
      },
      handle: async (ctx) => {
        const doc = documentOf(await shadows.get(await registeredDevice(ctx)));
        return withEtag(doc, renderTwin(doc));
      },
    },
    {
      method: "PATCH",
      path: `${DEVICE}/twin`,
      operationId: "updateTwin",
      summary: "Set desired values of components and properties with a JSON Patch",
      tag: "twin",
      requestHeaders: ifMatchHeader,
      body: { contentType: JSON_PATCH, schema: S.TwinPatch },
      responses: {
        200: {
          description: "the twin after the change",
          schema: S.DigitalTwin,
          headers: { ETag: 'the shadow\'s version, quoted ("7"; "2:7" after two Alibaba resets)' },
        },
        ...problemResponses([400, 404, 412, 413, 415, 503]),
      },
      handle: async (ctx) => {
        const expected = parseIfMatch(ctx.headers["if-match"]);
        const key = await registeredDevice(ctx);
        const doc = documentOf(await shadows.twinPatch(key, ctx.body, expected));
        return withEtag(doc, renderTwin(doc));
      },
    },
    // Function calls (seed 001)
    {
      method: "POST",
      path: `${DEVICE}/functions`,
      operationId: "callFunction",
      summary:
        "Call a function on the device: queued as desired._function, delivered now or when the device next connects",
      tag: "functions",
      body: { contentType: JSON_TYPE, schema: F.FunctionCallRequest },
      responses: {
        202: {
          description: "queued (pending); Location is the call's URL",
          schema: F.FunctionCall,
          headers: { Location: "the call's URL" },
        },
        ...problemResponses([400, 404, 413, 415, 429, 503]),
      },
      handle: async (ctx) => {
        const key = await registeredDevice(ctx);
        const request = ctx.body as typeof F.FunctionCallRequest.Type;
        const doc = documentOf(
          await shadows.functionCall(key, {
            queue: {
              funcKey: request.funcKey,
              ...(request.params === undefined ? {} : { params: request.params }),
              ...(request.timeout === undefined ? {} : { timeoutMs: request.timeout * 1000 }),
              retentionMs,
              // Advisory: a Redis hiccup records the device as not online.
              online: (await deps.presence?.isOnline(key).catch(() => false)) ?? false,
            },
          }),
        );
        const call = doc.functions?.at(-1);
        if (call === undefined) return fail("internal", "the shard queued no call");
        const location = `/v1/products/${encodeURIComponent(ctx.params.pid as string)}/devices/${encodeURIComponent(ctx.params.dn as string)}/functions/${encodeURIComponent(call.requestId)}`;
        return { status: 202, body: callView(doc, call), headers: { location } };
      },
    },
    {
      method: "GET",
      path: `${DEVICE}/functions`,
      operationId: "listFunctions",
      summary: "The device's function calls, oldest first (deadlines checked now)",
      tag: "functions",
      responses: {
        200: { description: "the calls", schema: F.FunctionCallList },
        ...problemResponses([404, 503]),
      },
      handle: async (ctx) => {
        const reply = await shadows.functionCall(await registeredDevice(ctx), { check: {} });
        if (!reply.ok && reply.error._tag === "ShadowNotFound")
          return { status: 200, body: { functions: [] } };
        const doc = documentOf(reply);
        return {
          status: 200,
          body: { functions: (doc.functions ?? []).map((c) => callView(doc, c)) },
        };
      },
    },
    {
      method: "GET",
      path: `${DEVICE}/functions/{requestId}`,
      operationId: "getFunction",
      summary:
        "A function call's state: pending, completed, failed or timeout (its deadline checked now)",
      tag: "functions",
      responses: {
        200: { description: "the call", schema: F.FunctionCall },
        ...problemResponses([404, 503]),
      },
      handle: async (ctx) => {
        const key = await registeredDevice(ctx);
        const requestId = ctx.params.requestId as string;
        const doc = documentOf(await shadows.functionCall(key, { check: { requestId } }));
        const call = doc.functions?.find((c) => c.requestId === requestId);
        // Cleaned up by this very check: its retention had passed.
        if (call === undefined)
          return fail("function-not-found", `no function call '${requestId}'`);
        return { status: 200, body: callView(doc, call) };
      },
    },
  ];
};

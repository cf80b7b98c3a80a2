/**
 * Function calls (seed 001): a call is queued in the shadow as `desired._function`,
 * delivered now or when the device next connects, and readable until its retention ends.
 */
import {
  DEFAULT_FUNCTION_RETENTION_MS,
  type ShadowDocument as Doc,
  type FunctionCall,
} from "@umbra/core";
import * as F from "../function-schemas.js";
import { fail } from "../problems.js";
import type { Route } from "../routing.js";
import {
  type ApiDependencies,
  DEVICE,
  devicePath,
  JSON_TYPE,
  problemResponses,
  registeredDevice,
} from "./common.js";
import { documentOf } from "./documents.js";

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

export const functionRoutes = (
  deps: Pick<ApiDependencies, "registry" | "shadows" | "presence" | "functionRetentionMs">,
): Route[] => {
  const { registry, shadows, presence } = deps;
  const retentionMs = deps.functionRetentionMs ?? DEFAULT_FUNCTION_RETENTION_MS;
  return [
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
        const { device, key } = await registeredDevice(registry, ctx);
        const request = ctx.body as typeof F.FunctionCallRequest.Type;
        const doc = documentOf(
          await shadows.functionCall(key, {
            queue: {
              funcKey: request.funcKey,
              ...(request.params === undefined ? {} : { params: request.params }),
              ...(request.timeout === undefined ? {} : { timeoutMs: request.timeout * 1000 }),
              retentionMs,
              // Advisory: a Redis hiccup records the device as not online.
              online: (await presence?.isOnline(key).catch(() => false)) ?? false,
            },
          }),
        );
        const call = doc.functions?.at(-1);
        if (call === undefined) return fail("internal", "the shard queued no call");
        const location = devicePath(device, `/functions/${encodeURIComponent(call.requestId)}`);
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
        const reply = await shadows.functionCall((await registeredDevice(registry, ctx)).key, {
          check: {},
        });
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
        const { key } = await registeredDevice(registry, ctx);
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

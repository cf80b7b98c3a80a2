/**
 * Event streams (Server-Sent Events) of a product's or one device's accepted changes;
 * the streams themselves are served by `../events/streams.ts`.
 */
import { isAwsShadowName } from "@umbra/dialects";
import { type EventId, parseEventId } from "../events/resume.js";
import { fail } from "../problems.js";
import type { RequestContext, Route } from "../routing.js";
import * as S from "../schemas.js";
import {
  type ApiDependencies,
  DEVICE,
  pidOf,
  problemResponses,
  productMustExist,
  registeredDevice,
} from "./common.js";

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

/**
 * `?shadow=`: only one named shadow's events, or (empty) only the classic shadow's;
 * absent, every shadow's. A name no shadow can have is a 400, not a stream that stays
 * silent.
 */
export const shadowFilterOf = (ctx: RequestContext): string | undefined => {
  const shadow = ctx.query.get("shadow") ?? undefined;
  if (shadow === undefined || shadow === "" || isAwsShadowName(shadow)) return shadow;
  return fail(
    "bad-request",
    "shadow must be a shadow name (1–64 characters of letters, digits, '$', ':', '_' and '-'), or empty for the classic shadow",
  );
};

const eventStreamQuery = [
  {
    name: "after",
    description: "resume after this event id when no Last-Event-ID header is sent",
    schema: { type: "string", pattern: "^[0-9]+\\.[0-9]+$" },
  },
  {
    name: "shadow",
    description:
      "only the events of this named shadow; empty (`?shadow=`): only the classic shadow's; absent: every shadow's, and the devices' telemetry (which no shadow filter lets through)",
    schema: { type: "string", pattern: "^[$a-zA-Z0-9:_-]{0,64}$" },
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
  description: `Server-Sent Events: a \`change\` event (id \`{sequence}.{index}\`) per accepted write and per telemetry message of ${what}, a \`missed\` event first when events after Last-Event-ID are no longer kept, a comment every 15 s`,
  contentType: "text/event-stream",
  events: { change: S.AppEvent, missed: S.MissedEvents },
});

export const eventRoutes = (deps: Pick<ApiDependencies, "registry" | "events">): Route[] => {
  const { registry, events } = deps;
  return [
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
        const shadow = shadowFilterOf(ctx);
        await productMustExist(registry, pid);
        return { status: 200, stream: await events.prepare({ productId: pid, after, shadow }) };
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
        const shadow = shadowFilterOf(ctx);
        const { device } = await registeredDevice(registry, ctx);
        return { status: 200, stream: await events.prepare({ ...device, after, shadow }) };
      },
    },
  ];
};

/**
 * A device's shadow: read (canonical, or in a dialect's view), desired changed with a
 * JSON merge patch, deleted; every write may name the version it expects (`If-Match`).
 */
import {
  type ShadowDocument as Doc,
  renderAliyunDocument,
  renderAwsGetAccepted,
  renderOneNetGetAccepted,
  renderTwin,
} from "@umbra/core";
import { fail } from "../problems.js";
import type { RequestContext, Route } from "../routing.js";
import * as S from "../schemas.js";
import { type ApiDependencies, DEVICE, problemResponses, registeredDevice } from "./common.js";
import {
  documentOf,
  ETAG_HEADER,
  ifMatchHeader,
  parseIfMatch,
  problemOf,
  withEtag,
} from "./documents.js";

export const VIEWS = ["canonical", "onenet", "aliyun", "aws", "twin"] as const;
export type View = (typeof VIEWS)[number];

const MERGE_PATCH = "application/merge-patch+json";

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

/**
 * Which shadow of a device a set of routes serves: the classic one (`…/shadow`) or a
 * named one (`…/shadows/{shadowName}`). The three routes are the same for both.
 */
export interface ShadowResource {
  readonly path: string;
  readonly operationIds: { readonly get: string; readonly update: string; readonly delete: string };
  /** The resource in the summaries: "the device's shadow". */
  readonly what: string;
  /**
   * The shadow the request names (`undefined`: the classic one), read before anything
   * is looked up so a bad name changes and asks nothing.
   */
  readonly shadowOf: (ctx: RequestContext) => string | undefined;
  /** Statuses the routes answer besides the classic ones (a bad name's 400). */
  readonly extraStatuses: readonly number[];
}

const CLASSIC: ShadowResource = {
  path: `${DEVICE}/shadow`,
  operationIds: { get: "getShadow", update: "updateShadow", delete: "deleteShadow" },
  what: "the device's shadow",
  shadowOf: () => undefined,
  extraStatuses: [],
};

const statuses = (base: readonly number[], extra: readonly number[]): number[] =>
  [...new Set([...base, ...extra])].sort((a, b) => a - b);

/** Read (canonical or a dialect's view), merge-patch desired, delete: one shadow's routes. */
export const shadowDocumentRoutes = (
  deps: Pick<ApiDependencies, "registry" | "shadows" | "now">,
  resource: ShadowResource,
): Route[] => {
  const { registry, shadows, now } = deps;
  const { path, operationIds, what, shadowOf, extraStatuses } = resource;
  return [
    {
      method: "GET",
      path,
      operationId: operationIds.get,
      summary: `Read ${what}: canonical (seed 001) or in a dialect's format`,
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
          headers: ETAG_HEADER,
        },
        ...problemResponses(statuses([400, 404, 503], extraStatuses)),
      },
      handle: async (ctx) => {
        const shadow = shadowOf(ctx);
        const view = (ctx.query.get("view") ?? "canonical") as View;
        if (!VIEWS.includes(view)) fail("bad-request", `view must be one of ${VIEWS.join(", ")}`);
        const { key } = await registeredDevice(registry, ctx);
        const doc = documentOf(await shadows.get(key, shadow));
        return withEtag(doc, renderView(doc, view, now()));
      },
    },
    {
      method: "PATCH",
      path,
      operationId: operationIds.update,
      summary: `Change desired of ${what} with a JSON merge patch (null deletes a key)`,
      tag: "shadow",
      requestHeaders: ifMatchHeader,
      body: { contentType: MERGE_PATCH, schema: S.ShadowPatch },
      responses: {
        200: {
          description: "the shadow after the change; ETag is its version",
          schema: S.ShadowDocument,
          headers: ETAG_HEADER,
        },
        ...problemResponses(statuses([400, 404, 412, 413, 415, 503], extraStatuses)),
      },
      handle: async (ctx) => {
        const shadow = shadowOf(ctx);
        const expected = parseIfMatch(ctx.headers["if-match"]);
        const { key } = await registeredDevice(registry, ctx);
        const { desired } = ctx.body as typeof S.ShadowPatch.Type;
        const doc = documentOf(await shadows.update(key, { desired }, expected, shadow));
        return withEtag(doc, doc);
      },
    },
    {
      method: "DELETE",
      path,
      operationId: operationIds.delete,
      summary: `Delete ${what} (its next write starts a new one, its version line goes on)`,
      tag: "shadow",
      requestHeaders: ifMatchHeader,
      responses: {
        204: { description: "deleted" },
        ...problemResponses(statuses([404, 412, 503], extraStatuses)),
      },
      handle: async (ctx) => {
        const shadow = shadowOf(ctx);
        const expected = parseIfMatch(ctx.headers["if-match"]);
        const { key } = await registeredDevice(registry, ctx);
        const reply = await shadows.delete(key, expected, shadow);
        if (!reply.ok) problemOf(reply);
        return { status: 204 };
      },
    },
  ];
};

/** The device's classic shadow (`…/shadow`). */
export const shadowRoutes = (
  deps: Pick<ApiDependencies, "registry" | "shadows" | "now">,
): Route[] => shadowDocumentRoutes(deps, CLASSIC);

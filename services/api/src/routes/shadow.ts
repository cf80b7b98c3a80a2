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
import type { Route } from "../routing.js";
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

export const shadowRoutes = (
  deps: Pick<ApiDependencies, "registry" | "shadows" | "now">,
): Route[] => {
  const { registry, shadows, now } = deps;
  return [
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
          headers: ETAG_HEADER,
        },
        ...problemResponses([400, 404, 503]),
      },
      handle: async (ctx) => {
        const view = (ctx.query.get("view") ?? "canonical") as View;
        if (!VIEWS.includes(view)) fail("bad-request", `view must be one of ${VIEWS.join(", ")}`);
        const doc = documentOf(await shadows.get((await registeredDevice(registry, ctx)).key));
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
          headers: ETAG_HEADER,
        },
        ...problemResponses([400, 404, 412, 413, 415, 503]),
      },
      handle: async (ctx) => {
        const expected = parseIfMatch(ctx.headers["if-match"]);
        const { key } = await registeredDevice(registry, ctx);
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
        const reply = await shadows.delete((await registeredDevice(registry, ctx)).key, expected);
        if (!reply.ok) problemOf(reply);
        return { status: 204 };
      },
    },
  ];
};

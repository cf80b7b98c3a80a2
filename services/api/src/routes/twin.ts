/**
 * A device's digital twin (IoT Plug and Play shape, seed 004): the shadow rendered as a
 * twin, and desired values of components and properties set with a JSON Patch.
 */
import { renderTwin } from "@umbra/core";
import type { Route } from "../routing.js";
import * as S from "../schemas.js";
import { type ApiDependencies, DEVICE, problemResponses, registeredDevice } from "./common.js";
import { documentOf, ETAG_HEADER, ifMatchHeader, parseIfMatch, withEtag } from "./documents.js";

const JSON_PATCH = "application/json-patch+json";

export const twinRoutes = (deps: Pick<ApiDependencies, "registry" | "shadows">): Route[] => {
  const { registry, shadows } = deps;
  return [
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
          headers: ETAG_HEADER,
        },
        ...problemResponses([404, 503]),
      },
      handle: async (ctx) => {
        const doc = documentOf(await shadows.get((await registeredDevice(registry, ctx)).key));
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
          headers: ETAG_HEADER,
        },
        ...problemResponses([400, 404, 412, 413, 415, 503]),
      },
      handle: async (ctx) => {
        const expected = parseIfMatch(ctx.headers["if-match"]);
        const { key } = await registeredDevice(registry, ctx);
        const doc = documentOf(await shadows.twinPatch(key, ctx.body, expected));
        return withEtag(doc, renderTwin(doc));
      },
    },
  ];
};

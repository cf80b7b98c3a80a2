/**
 * A device's named shadows (AWS IoT's `…/shadow/name/{name}/…`): each is its own
 * document and version line beside the classic shadow, read and written with the same
 * views, merge patch and `If-Match` as the classic one; `…/shadows` lists their names.
 */
import { isAwsShadowName } from "@umbra/dialects";
import { fail } from "../problems.js";
import type { RequestContext, Route } from "../routing.js";
import * as S from "../schemas.js";
import { type ApiDependencies, DEVICE, problemResponses, registeredDevice } from "./common.js";
import { shadowDocumentRoutes } from "./shadow.js";

/** The path parameter naming a named shadow. */
export const SHADOW_NAME_PARAMETER = "shadowName";

/**
 * The names of a device's named shadows that exist (written and not deleted), in any
 * order. The shard keeps them in the device's `shadow-names` set in Redis.
 */
export type ShadowNameReader = (deviceKey: string) => Promise<readonly string[]>;

/** The named shadow a path names; a name AWS would refuse is a 400 before anything else. */
export const shadowNameOf = (ctx: RequestContext): string => {
  const name = ctx.params[SHADOW_NAME_PARAMETER] as string;
  if (!isAwsShadowName(name))
    return fail(
      "bad-request",
      "a shadow name is 1–64 characters of letters, digits, '$', ':', '_' and '-'",
    );
  return name;
};

export const namedShadowRoutes = (
  deps: Pick<ApiDependencies, "registry" | "shadows" | "now" | "shadowNames">,
): Route[] => {
  const { registry, shadowNames } = deps;
  return [
    {
      method: "GET",
      path: `${DEVICE}/shadows`,
      operationId: "listNamedShadows",
      summary: "The names of the device's named shadows (the classic shadow is not one)",
      tag: "shadow",
      responses: {
        200: { description: "the names, sorted", schema: S.ShadowNameList },
        ...problemResponses([404, 503]),
      },
      handle: async (ctx) => {
        const { key } = await registeredDevice(registry, ctx);
        // Names are ASCII: code-unit order is the order anyone would expect.
        const names = [...(await shadowNames(key))].sort();
        return { status: 200, body: { names } };
      },
    },
    ...shadowDocumentRoutes(deps, {
      path: `${DEVICE}/shadows/{${SHADOW_NAME_PARAMETER}}`,
      operationIds: {
        get: "getNamedShadow",
        update: "updateNamedShadow",
        delete: "deleteNamedShadow",
      },
      what: "a named shadow of the device",
      shadowOf: shadowNameOf,
      extraStatuses: [400],
    }),
  ];
};

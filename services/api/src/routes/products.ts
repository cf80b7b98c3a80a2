/** Products: the registry's top level, and the unit an API key's scope names. */
import { registrableNameProblem } from "@umbra/store";
import { covers } from "../keys.js";
import { fail } from "../problems.js";
import type { Route } from "../routing.js";
import * as S from "../schemas.js";
import { type ApiDependencies, JSON_TYPE, pidOf, problemResponses } from "./common.js";

export const productRoutes = (deps: Pick<ApiDependencies, "registry" | "now">): Route[] => {
  const { registry, now } = deps;
  return [
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
  ];
};

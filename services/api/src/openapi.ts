import { Schema } from "effect";
import type { Route } from "./routing.js";
import * as S from "./schemas.js";

type Json = Record<string, unknown>;

const PATH_PARAMETERS: Readonly<Record<string, string>> = {
  pid: "product id",
  dn: "device name",
  requestId: "a function call's request id",
  shadowName: "a named shadow's name: 1–64 of [$a-zA-Z0-9:_-] (AWS IoT's rule)",
};

/** `#/$defs/X` (what Effect emits) → `#/components/schemas/X`, everywhere in a tree. */
const relocate = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(relocate);
  if (typeof node !== "object" || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node))
    out[k] =
      k === "$ref" && typeof v === "string"
        ? v.replace(/^#\/\$defs\//, "#/components/schemas/")
        : relocate(v);
  return out;
};

/**
 * The OpenAPI 3.1 document of the routes, generated from their schemas (JSON Schema
 * 2020-12, which OpenAPI 3.1 uses as it is). Named schemas go to `components.schemas`.
 * Request bodies are described as strict as they are decoded (no unknown members).
 */
export const openApiDocument = (routes: readonly Route[], version: string): Json => {
  const components: Json = {};
  const schemaOf = (schema: Schema.Top, strict: boolean): unknown => {
    const doc = Schema.toJsonSchemaDocument(
      schema,
      strict ? { onExcessProperty: "error" } : undefined,
    );
    for (const [name, definition] of Object.entries(doc.definitions)) {
      // The same schema may be strict as a body and lenient as a response: name apart.
      const existing = components[name];
      if (existing === undefined) components[name] = relocate(definition);
    }
    return relocate(doc.schema);
  };
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const parameters: Json[] = [];
    for (const match of route.path.matchAll(/\{(\w+)\}/g))
      parameters.push({
        name: match[1],
        in: "path",
        required: true,
        description: PATH_PARAMETERS[match[1] as string] ?? (match[1] as string),
        schema: { type: "string" },
      });
    for (const q of route.query ?? [])
      parameters.push({ name: q.name, in: "query", description: q.description, schema: q.schema });
    for (const h of route.requestHeaders ?? [])
      parameters.push({ name: h.name, in: "header", description: h.description, schema: h.schema });
    const responses: Json = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const response: Json = { description: spec.description };
      if (spec.schema !== undefined) {
        const type =
          spec.contentType ??
          (spec.schema === S.Problem ? "application/problem+json" : "application/json");
        response.content = { [type]: { schema: schemaOf(spec.schema, false) } };
      } else if (spec.contentType !== undefined) {
        const media: Json = { schema: { type: "string" } };
        // OpenAPI 3.1 has no place for the events of a stream: an extension names them.
        if (spec.events !== undefined) {
          const events: Json = {};
          for (const [name, schema] of Object.entries(spec.events))
            events[name] = schemaOf(schema, false);
          media["x-umbra-events"] = events;
        }
        response.content = { [spec.contentType]: media };
      }
      if (spec.headers !== undefined) {
        const headers: Json = {};
        for (const [name, description] of Object.entries(spec.headers))
          headers[name] = { description, schema: { type: "string" } };
        response.headers = headers;
      }
      responses[status] = response;
    }
    responses.default = {
      description: "any other error, as a problem document (401, 403, 429, 500, 503…)",
      content: { "application/problem+json": { schema: schemaOf(S.Problem, false) } },
    };
    const operation: Json = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: { [route.body.contentType]: { schema: schemaOf(route.body.schema, true) } },
            },
          }),
      responses,
      ...(route.public === true ? { security: [] } : {}),
    };
    const item = paths[route.path] ?? {};
    item[route.method.toLowerCase()] = operation;
    paths[route.path] = item;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Umbra API",
      version,
      description:
        "Device shadows, digital twins and the device registry of an Umbra cluster. Every error is an RFC 9457 problem document.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    tags: [
      { name: "shadow", description: "device shadows (seed 001) and their views" },
      { name: "twin", description: "digital twins (seed 004)" },
      { name: "functions", description: "remote function calls with offline caching (seed 001)" },
      { name: "registry", description: "products, devices, keys and tokens" },
      {
        name: "gateways",
        description:
          "gateway sub-devices (seed 003): the topology, and calls through the gateway's session",
      },
      {
        name: "device calls",
        description:
          "property get / set and service calls to a device itself on its thing-model topics (OneNET)",
      },
      {
        name: "events",
        description:
          "live changes as Server-Sent Events, resumable with Last-Event-ID within the retention window",
      },
      { name: "operations", description: "health, readiness, metrics, this document" },
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "an API key from API_KEYS, scoped to products",
        },
      },
    },
    security: [{ apiKey: [] }],
  };
};

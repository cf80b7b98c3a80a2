/**
 * The named-shadow routes' own logic, with a recording shard and registry: the name
 * checked before anything is asked, the name passed on with every command, the list
 * sorted, and a deleted device's named shadows removed before its classic one. The
 * round trips through a real cluster are test/e2e/api-named-shadows.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandAnswer, NatsConnection, ShadowClient } from "@umbra/bus";
import { type ShadowDocument, ShadowErrors } from "@umbra/core";
import type { DeviceRegistry } from "@umbra/store";
import {
  apiRoutes,
  type EventStreams,
  ProblemError,
  type RequestContext,
  type Route,
  shadowFilterOf,
} from "../src/index.js";

/** What the fakes were asked, in order. */
type Call = readonly unknown[];

// Only the version matters here (the ETag); the rest is never read.
const document = (version: number): ShadowDocument =>
  ({
    deviceKey: "lamp",
    productKey: "p",
    version,
    reported: {},
    desired: {},
    metadata: { reported: {}, desired: {} },
    lastUpdated: "2024-01-01T00:00:00Z",
  }) as unknown as ShadowDocument;

const setUp = (options: { names?: readonly string[]; deleteFails?: string } = {}) => {
  const calls: Call[] = [];
  const answer = (version: number): CommandAnswer => ({
    ok: true,
    version,
    document: document(version),
  });
  const shadows = {
    get: async (...args: unknown[]) => {
      calls.push(["get", ...args]);
      return answer(3);
    },
    update: async (...args: unknown[]) => {
      calls.push(["update", ...args]);
      return answer(4);
    },
    delete: async (...args: unknown[]): Promise<CommandAnswer> => {
      calls.push(["delete", ...args]);
      return args[2] !== undefined && args[2] === options.deleteFails
        ? { ok: false, error: ShadowErrors.unspecified("storage") }
        : answer(5);
    },
  } as unknown as ShadowClient;
  const registry = {
    getProduct: async (pid: string) => ({ productId: pid, createdAt: 0 }),
    get: async (key: string) => {
      calls.push(["registry.get", key]);
      return { key: "secret", createdAt: 0 };
    },
    remove: async (pid: string, dn: string) => {
      calls.push(["registry.remove", `${pid}/${dn}`]);
      return true;
    },
  } as unknown as DeviceRegistry;
  const routes = apiRoutes({
    shadows,
    registry,
    nc: { publish: () => undefined } as unknown as NatsConnection,
    events: {} as EventStreams,
    shadowNames: async (key) => {
      calls.push(["shadowNames", key]);
      return options.names ?? [];
    },
    now: () => 0,
  });
  const route = (operationId: string): Route => {
    const found = routes.find((r) => r.operationId === operationId);
    assert.ok(found, operationId);
    return found;
  };
  return { calls, route };
};

const context = (
  params: Record<string, string>,
  extra: Partial<Pick<RequestContext, "headers" | "body" | "query">> = {},
): RequestContext => ({
  params: { pid: "p", dn: "lamp", ...params },
  query: extra.query ?? new URLSearchParams(),
  headers: extra.headers ?? {},
  body: extra.body ?? {},
  key: undefined,
});

const NAMED = ["getNamedShadow", "updateNamedShadow", "deleteNamedShadow"] as const;

describe("named-shadow routes", () => {
  it("answer 400 for a name AWS would refuse, before the registry or the shard is asked", async () => {
    const refused = ["", "a b", "a/b", "a.b", "a+b", "ä", "x".repeat(65)];
    for (const operationId of NAMED)
      for (const shadowName of refused) {
        const { calls, route } = setUp();
        await assert.rejects(
          async () => route(operationId).handle(context({ shadowName }, { body: { desired: {} } })),
          (e: unknown) =>
            e instanceof ProblemError &&
            e.problem.status === 400 &&
            e.problem.type === "urn:umbra:problem:bad-request" &&
            /shadow name/.test(e.problem.detail),
          `${operationId} '${shadowName}'`,
        );
        assert.deepEqual(calls, [], `${operationId} '${shadowName}'`);
      }
  });

  it("pass the name with every command: get, update with If-Match, delete with If-Match", async () => {
    for (const shadowName of ["x".repeat(64), "$a:b_c-D9"]) {
      const { calls, route } = setUp();
      const got = await route("getNamedShadow").handle(context({ shadowName }));
      assert.equal(got.headers?.etag, '"3"');
      const patched = await route("updateNamedShadow").handle(
        context(
          { shadowName },
          { headers: { "if-match": '"3"' }, body: { desired: { on: true } } },
        ),
      );
      assert.equal(patched.headers?.etag, '"4"');
      const deleted = await route("deleteNamedShadow").handle(
        context({ shadowName }, { headers: { "if-match": '"4"' } }),
      );
      assert.equal(deleted.status, 204);
      assert.deepEqual(calls, [
        ["registry.get", "p/lamp"],
        ["get", "p/lamp", shadowName],
        ["registry.get", "p/lamp"],
        ["update", "p/lamp", { desired: { on: true } }, { version: 3, epoch: 0 }, shadowName],
        ["registry.get", "p/lamp"],
        ["delete", "p/lamp", { version: 4, epoch: 0 }, shadowName],
      ]);
    }
  });

  it("the classic routes name no shadow", async () => {
    const { calls, route } = setUp();
    await route("getShadow").handle(context({}));
    await route("updateShadow").handle(context({}, { body: { desired: {} } }));
    await route("deleteShadow").handle(context({}));
    assert.deepEqual(
      calls.filter((c) => c[0] !== "registry.get"),
      [
        ["get", "p/lamp", undefined],
        ["update", "p/lamp", { desired: {} }, undefined, undefined],
        ["delete", "p/lamp", undefined, undefined],
      ],
    );
  });

  it("lists the names sorted", async () => {
    const { calls, route } = setUp({ names: ["b", "A", "$z", "a", "a-1"] });
    const listed = await route("listNamedShadows").handle(context({}));
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, { names: ["$z", "A", "a", "a-1", "b"] });
    assert.deepEqual(calls, [
      ["registry.get", "p/lamp"],
      ["shadowNames", "p/lamp"],
    ]);
  });

  it("event streams take a shadow filter: a bad one is a 400 before the registry is asked", async () => {
    for (const operationId of ["streamDeviceEvents", "streamProductEvents"])
      for (const bad of ["a.b", "x".repeat(65), " "]) {
        const { calls, route } = setUp();
        await assert.rejects(
          async () =>
            route(operationId).handle(context({}, { query: new URLSearchParams({ shadow: bad }) })),
          (e: unknown) =>
            e instanceof ProblemError &&
            e.problem.status === 400 &&
            /shadow/.test(e.problem.detail),
          `${operationId} '${bad}'`,
        );
        assert.deepEqual(calls, [], operationId);
      }
    for (const good of ["", "fan", "x".repeat(64)])
      assert.equal(
        shadowFilterOf(context({}, { query: new URLSearchParams({ shadow: good }) })),
        good,
      );
    assert.equal(shadowFilterOf(context({})), undefined);
  });

  it("deleting a device deletes its named shadows, then its classic one", async () => {
    const { calls, route } = setUp({ names: ["one", "two"] });
    const deleted = await route("deleteDevice").handle(context({}));
    assert.equal(deleted.status, 204);
    assert.deepEqual(
      calls.filter((c) => c[0] === "delete"),
      [
        ["delete", "p/lamp", undefined, "one"],
        ["delete", "p/lamp", undefined, "two"],
        ["delete", "p/lamp"],
      ],
    );
  });

  it("a named shadow the shard could not delete fails the device's delete before the classic one goes", async () => {
    const { calls, route } = setUp({ names: ["one", "two"], deleteFails: "one" });
    await assert.rejects(
      async () => route("deleteDevice").handle(context({})),
      (e: unknown) => e instanceof ProblemError && e.problem.status === 503,
    );
    assert.deepEqual(
      calls.filter((c) => c[0] === "delete"),
      [["delete", "p/lamp", undefined, "one"]],
    );
  });
});

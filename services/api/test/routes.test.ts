import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NatsConnection, ShadowClient } from "@umbra/bus";
import type { DeviceRegistry } from "@umbra/store";
import {
  apiRoutes,
  DEVICE,
  type EventStreams,
  ProblemError,
  type RequestContext,
} from "../src/index.js";

/** Calling any of its methods fails the test: the route reached past the check. */
const untouchable = <T>(what: string): T =>
  new Proxy({} as object, {
    get: (_, member) => () => {
      throw new Error(`${what}.${String(member)} was called`);
    },
  }) as T;

/** A registry that knows product `p` and no device; what it was asked is recorded. */
const emptyRegistry = (asked: string[]) =>
  ({
    getProduct: async (pid: string) => ({ productId: pid, createdAt: 0 }),
    get: async (key: string) => {
      asked.push(key);
      return undefined;
    },
  }) as unknown as DeviceRegistry;

const context = (params: Record<string, string>): RequestContext => ({
  params,
  query: new URLSearchParams(),
  headers: {},
  body: {},
  key: undefined,
});

const unknownDevice = (e: unknown): boolean =>
  e instanceof ProblemError &&
  e.problem.status === 404 &&
  e.problem.type === "urn:umbra:problem:unknown-device";

describe("the registered-device check", () => {
  const asked: string[] = [];
  const routes = apiRoutes({
    shadows: untouchable<ShadowClient>("shadows"),
    registry: emptyRegistry(asked),
    nc: untouchable<NatsConnection>("nc"),
    events: untouchable<EventStreams>("events"),
    shadowNames: async () => {
      throw new Error("shadowNames was called");
    },
    now: () => 0,
  });
  // Deleting is the one device route that goes on for an unregistered device: a retry
  // after a failed shadow removal must still remove the shadow.
  const deviceRoutes = routes.filter(
    (r) => r.path.startsWith(DEVICE) && r.operationId !== "deleteDevice",
  );

  it("covers every route about one device", () => {
    assert.deepEqual(deviceRoutes.map((r) => r.operationId).sort(), [
      "callFunction",
      "deleteNamedShadow",
      "deleteShadow",
      "getDevice",
      "getFunction",
      "getNamedShadow",
      "getShadow",
      "getTwin",
      "issueDeviceToken",
      "listFunctions",
      "listNamedShadows",
      "rotateDeviceKey",
      "streamDeviceEvents",
      "updateNamedShadow",
      "updateShadow",
      "updateTwin",
    ]);
  });

  it("answers 404 unknown-device for an unregistered device before the shard, NATS or a stream is asked", async () => {
    for (const route of deviceRoutes) {
      asked.length = 0;
      await assert.rejects(
        async () =>
          route.handle(context({ pid: "p", dn: "ghost", requestId: "r", shadowName: "s" })),
        unknownDevice,
        route.operationId,
      );
      assert.deepEqual(asked, ["p/ghost"], route.operationId);
    }
  });

  it("answers the same 404 for names no device can have, without asking the registry", async () => {
    for (const route of deviceRoutes)
      for (const params of [
        { pid: "p", dn: "a+b" },
        { pid: "p#", dn: "d" },
      ]) {
        asked.length = 0;
        await assert.rejects(
          async () => route.handle(context({ ...params, requestId: "r", shadowName: "s" })),
          unknownDevice,
          `${route.operationId} ${JSON.stringify(params)}`,
        );
        assert.deepEqual(asked, [], route.operationId);
      }
  });
});

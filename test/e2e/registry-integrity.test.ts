/**
 * The device registry stores only what the API could address and link (issue 13,
 * findings 2 and 8), and a gateway's sub-devices are read from the sub-devices' own
 * records: against a real Redis, and through the real `umbra device` CLI.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  connectRedis,
  DeviceRegistry,
  type Redis,
  RegistryRefusal,
  subDevicesKey,
} from "@umbra/store";
import { type Server, startRedis, UMBRA_MAIN } from "../src/harness.js";

let redis: Server;
let client: Redis;
let registry: DeviceRegistry;

before(async () => {
  redis = await startRedis();
  client = await connectRedis(redis.url, "registry-test");
  registry = new DeviceRegistry(client);
});

after(async () => {
  client?.disconnect();
  await redis?.stop();
});

const keyCount = async (): Promise<number> => client.dbsize();

describe("the registry refuses names the API could not address", () => {
  it("refuses '.', '..' and lone surrogates as device names or product ids, storing nothing", async () => {
    const before = await keyCount();
    for (const name of [".", "..", "a\uD800", "\uDC00b"]) {
      await assert.rejects(registry.add("p1", name, "k", 1), RegistryRefusal, `device ${name}`);
      await assert.rejects(registry.add(name, "d", "k", 1), RegistryRefusal, `product ${name}`);
      await assert.rejects(registry.addProduct(name, 1), RegistryRefusal, `product ${name}`);
    }
    assert.equal(await keyCount(), before);
    // Dots inside a name, and surrogate pairs, round-trip through a URL: they stay allowed.
    assert.equal(await registry.add("p1", "a.b", "k", 1), true);
    assert.equal(await registry.add("p1", "...", "k", 1), true);
    assert.equal(await registry.add("p1", "\uD83D\uDE00", "k", 1), true);
  });

  it("umbra device add refuses '..' and stores nothing", async () => {
    const before = await keyCount();
    const run = spawnSync(process.execPath, [UMBRA_MAIN, "device", "add", "p1", ".."], {
      encoding: "utf8",
      env: { ...process.env, REDIS_URL: redis.url },
      timeout: 20_000,
    });
    assert.notEqual(run.status, 0, run.stdout);
    assert.match(run.stderr, /device name must not be '\.' or '\.\.'/);
    assert.equal(await keyCount(), before);
  });
});

describe("a gateway's sub-devices", () => {
  it("the registry refuses a device as its own sub-device and malformed keys, linking nothing", async () => {
    await registry.add("p1", "gw", "k", 1);
    await assert.rejects(registry.attach("p1/gw", "p1/gw"), RegistryRefusal);
    await assert.rejects(registry.attach("p1/gw", "p2"), RegistryRefusal);
    await assert.rejects(registry.attach("p1/gw", "p2/a/b"), RegistryRefusal);
    await assert.rejects(registry.attach("p1/gw", "p2/.."), RegistryRefusal);
    assert.deepEqual(await registry.subDevices("p1/gw"), []);
    assert.equal(await client.exists(subDevicesKey("p1/gw")), 0);
  });

  it("are only those whose own record names the gateway: a stray listing entry grants nothing", async () => {
    await registry.add("p1", "gw2", "k", 1);
    await registry.add("p1", "linked", "k", 1);
    await registry.add("p2", "secret", "k", 1);
    assert.equal(await registry.attach("p1/gw2", "p1/linked"), "attached");
    // Written around attach (a half-done write, a hand edit): the records do not agree.
    await client.sadd(subDevicesKey("p1/gw2"), "p2/secret", "p2/nobody", "garbage", "p1/gw2");
    assert.deepEqual(await registry.subDevices("p1/gw2"), ["p1/linked"]);
  });
});

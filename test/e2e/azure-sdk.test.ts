/**
 * The Azure IoT Hub twin dialect (DIALECTS.md §2) with Azure's official device SDK,
 * unmodified: `azure-iot-device` 1.18.4 over `azure-iot-device-mqtt` 1.16.4, against
 * `umbra all` on real NATS and Redis, over TLS as the SDK always connects. A device's
 * connection string names the hub `{product}.azure-devices.net` and the edge as its
 * GatewayHostName; the SDK trusts Umbra's development CA through `setOptions({ ca })`.
 * Applications act through the HTTP API: shadow, digital twin (seed 004), function
 * calls (direct methods) and the event stream (telemetry).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { AzureDevice, type AzureDeviceOptions } from "../src/azure.js";
import {
  ALL_IN_ONE_ADMIN_KEY,
  type AllInOne,
  openEventStream,
  pollUntil,
  type RegisteredDevice,
  registerCertifiedDevice,
  registerDevice,
  SseStream,
  startAllInOne,
} from "../src/harness.js";

const ADMIN = ALL_IN_ONE_ADMIN_KEY;
const PID = "azhub";
const MODEL = "dtmi:com:example:Thermostat;1";

let cluster: AllInOne;
const open: { close(): unknown }[] = [];

const device = (deviceName: string): RegisteredDevice =>
  registerDevice(cluster.redis.url, PID, deviceName);

/** The SDK's client for a registered device, opened (its key unless one is given). */
const connect = async (
  d: RegisteredDevice,
  options: Partial<AzureDeviceOptions> = {},
): Promise<AzureDevice> => {
  const sdk = await AzureDevice.open({
    productId: PID,
    deviceName: d.deviceName,
    port: cluster.tlsPort,
    ca: cluster.ca,
    key: d.key,
    ...options,
  });
  open.push(sdk);
  return sdk;
};

const devicePath = (dn: string) => `/v1/products/${PID}/devices/${dn}`;

interface ShadowDoc {
  version: number;
  desired: Record<string, unknown>;
  reported: Record<string, unknown>;
}

const shadowOf = async (dn: string): Promise<ShadowDoc> => {
  const got = await cluster.http("GET", `${devicePath(dn)}/shadow`, { key: ADMIN });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.body as ShadowDoc;
};

type DigitalTwin = Record<string, unknown> & { $metadata: Record<string, unknown> };

const digitalTwinOf = async (dn: string): Promise<DigitalTwin> => {
  const got = await cluster.http("GET", `${devicePath(dn)}/twin`, { key: ADMIN });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.body as DigitalTwin;
};

/** An application's desired write (JSON merge patch on the shadow). */
const desire = async (dn: string, desired: Record<string, unknown>): Promise<void> => {
  const patched = await cluster.http("PATCH", `${devicePath(dn)}/shadow`, {
    key: ADMIN,
    type: "application/merge-patch+json",
    body: { desired },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
};

/** An application's digital twin JSON Patch (seed 004). */
const patchTwin = async (dn: string, operations: unknown[]): Promise<DigitalTwin> => {
  const patched = await cluster.http("PATCH", `${devicePath(dn)}/twin`, {
    key: ADMIN,
    type: "application/json-patch+json",
    body: operations,
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  return patched.body as DigitalTwin;
};

interface FunctionCallView {
  requestId: string;
  status: "pending" | "completed" | "failed" | "timeout";
  isOnline: boolean;
  result?: unknown;
}

const callFunction = async (
  dn: string,
  funcKey: string,
  params: Record<string, unknown>,
): Promise<FunctionCallView> => {
  const called = await cluster.http("POST", `${devicePath(dn)}/functions`, {
    key: ADMIN,
    body: { funcKey, params },
  });
  assert.equal(called.status, 202, JSON.stringify(called.body));
  return called.body as FunctionCallView;
};

/** The call once it is no longer pending (polled: a call's end raises no event here). */
const finished = async (dn: string, requestId: string): Promise<FunctionCallView> => {
  let call: FunctionCallView | undefined;
  await pollUntil(
    async () => {
      const got = await cluster.http(
        "GET",
        `${devicePath(dn)}/functions/${encodeURIComponent(requestId)}`,
        { key: ADMIN },
      );
      assert.equal(got.status, 200, JSON.stringify(got.body));
      call = got.body as FunctionCallView;
      return call.status !== "pending";
    },
    { timeoutMs: 10_000, what: `function call ${requestId} to finish`, intervalMs: 50 },
  );
  return call as FunctionCallView;
};

const versionOf = (section: Record<string, unknown>): number => {
  const v = section.$version;
  assert.equal(typeof v, "number", `no $version in ${JSON.stringify(section)}`);
  return v as number;
};

/** A section's members without its `$version`. */
const membersOf = (section: Record<string, unknown>): Record<string, unknown> => {
  const { $version: _v, ...members } = section;
  return members;
};

before(async () => {
  cluster = await startAllInOne();
});

after(async () => {
  await Promise.allSettled(open.map((o) => o.close()));
  await cluster?.stop();
});

describe("Azure IoT Hub twin with azure-iot-device (MQTT over TLS)", () => {
  it("getTwin on a fresh device gives empty desired and reported sections, each with its $version", async () => {
    const sdk = await connect(device("fresh"));
    const twin = await sdk.getTwin();
    const { desired, reported } = twin.properties;
    assert.deepEqual(membersOf(desired), {});
    // The SDK's reported object carries its own `update` function beside the members.
    const { update, ...reportedMembers } = reported;
    assert.equal(typeof update, "function");
    assert.deepEqual(membersOf(reportedMembers), {});
    assert.ok(versionOf(desired) >= 0);
    assert.ok(versionOf(reported) >= 0);
  });

  it("a reported update is accepted, shows in the API's shadow and a later getTwin, null deletes a member, and reported $version grows", async () => {
    const sdk = await connect(device("reporter"));
    const first = versionOf((await sdk.getTwin()).properties.reported);

    await sdk.report({ temperature: 21.5, mode: "eco", nested: { a: 1, b: 2 } });
    assert.deepEqual((await shadowOf("reporter")).reported, {
      temperature: 21.5,
      mode: "eco",
      nested: { a: 1, b: 2 },
    });
    const afterOne = (await sdk.getTwin()).properties.reported;
    assert.equal(afterOne.temperature, 21.5);
    assert.equal(afterOne.mode, "eco");
    const second = versionOf(afterOne);
    assert.ok(second > first, `reported $version ${second} after ${first}`);

    // A merge patch: null deletes, nested members merge, the rest stays.
    await sdk.report({ mode: null, nested: { b: null, c: 3 } });
    assert.deepEqual((await shadowOf("reporter")).reported, {
      temperature: 21.5,
      nested: { a: 1, c: 3 },
    });
    const afterTwo = (await sdk.getTwin()).properties.reported;
    assert.equal("mode" in afterTwo, false);
    assert.deepEqual(afterTwo.nested, { a: 1, c: 3 });
    const third = versionOf(afterTwo);
    assert.ok(third > second, `reported $version ${third} after ${second}`);
  });

  it("a reported patch with a member name IoT Hub refuses fails in the SDK with the hub's message and changes nothing", async () => {
    const sdk = await connect(device("strict"));
    await sdk.report({ ok: 1 });
    const before = await shadowOf("strict");
    // '.', '$' (the twin's own $version / $metadata) and a space (DIALECTS.md §2.4).
    for (const name of ["a.b", "$version", "a b"]) {
      await assert.rejects(sdk.report({ [name]: 1 }), (e: Error) => {
        assert.match(e.message, /names must not contain/, `${name}: ${e.message}`);
        return true;
      });
    }
    assert.deepEqual(await shadowOf("strict"), before);
  });

  it("a reported patch nesting 8 levels is accepted, 9 fails in the SDK and changes nothing (Umbra's depth limit, below IoT Hub's 10)", async () => {
    const sdk = await connect(device("deep"));
    await sdk.report({ ok: 1 });
    const before = await shadowOf("deep");
    // `{"leaf":1}` is one level (DIALECTS.md §2.4, SPEC §3).
    const nest = (levels: number): Record<string, unknown> => {
      let value: Record<string, unknown> = { leaf: 1 };
      for (let i = 1; i < levels; i++) value = { n: value };
      return value;
    };
    await assert.rejects(sdk.report(nest(9)), (e: Error) => {
      assert.match(e.message, /deeper than 8 levels/, e.message);
      return true;
    });
    assert.deepEqual(await shadowOf("deep"), before);
    await sdk.report(nest(8));
    assert.deepEqual((await shadowOf("deep")).reported.n, nest(8).n);
  });

  it("a desired write through the API reaches properties.desired with only the changed members and the new $version", async () => {
    const sdk = await connect(device("listener"));
    await sdk.watchDesired();
    // The SDK first fires with the desired section it got from getTwin.
    const initial = await sdk.desired.next("the initial properties.desired event");
    assert.deepEqual(membersOf(initial), {});
    const v0 = versionOf(initial);

    await desire("listener", { fan: 3, color: "red" });
    const one = await sdk.desired.next("the first desired patch");
    assert.deepEqual(membersOf(one), { fan: 3, color: "red" });
    const v1 = versionOf(one);
    assert.ok(v1 > v0, `desired $version ${v1} after ${v0}`);

    await desire("listener", { color: "blue" });
    const two = await sdk.desired.next("the second desired patch");
    assert.deepEqual(membersOf(two), { color: "blue" });
    const v2 = versionOf(two);
    assert.ok(v2 > v1, `desired $version ${v2} after ${v1}`);

    await desire("listener", { fan: null });
    const three = await sdk.desired.next("the deleting desired patch");
    assert.deepEqual(membersOf(three), { fan: null });
    const v3 = versionOf(three);
    assert.ok(v3 > v2, `desired $version ${v3} after ${v2}`);

    // The twin the device reads next agrees with what it was pushed.
    const desired = (await sdk.getTwin()).properties.desired;
    assert.deepEqual(membersOf(desired), { color: "blue" });
    assert.equal(versionOf(desired), v3);
  });

  it("Plug and Play: the model id shows as $metadata.$model; a writable property set through the twin reaches the device and its ack lands in $metadata as seed 004 shows", async () => {
    const sdk = await connect(device("thermostat"), { modelId: MODEL });
    assert.equal((await digitalTwinOf("thermostat")).$metadata.$model, MODEL);
    await sdk.watchDesired();
    await sdk.desired.next("the initial properties.desired event");

    await patchTwin("thermostat", [{ op: "add", path: "/targetTemperature", value: 21.3 }]);
    const pushed = await sdk.desired.next("the writable property");
    assert.deepEqual(membersOf(pushed), { targetTemperature: 21.3 });
    const av = versionOf(pushed);

    const ack = { value: 21.3, ac: 200, av, ad: "complete" };
    await sdk.report({ targetTemperature: ack });
    const twin = await digitalTwinOf("thermostat");
    assert.equal(twin.targetTemperature, 21.3);
    const meta = twin.$metadata.targetTemperature as Record<string, unknown>;
    assert.equal(meta.desiredValue, 21.3);
    assert.equal(meta.ackCode, 200);
    assert.equal(meta.ackVersion, av);
    assert.equal(meta.ackDescription, "complete");
    // The version the device was sent is the one the twin says is desired.
    assert.equal(meta.desiredVersion, av);
    assert.equal(twin.$metadata.$model, MODEL);
    // The device reads back what it reported: the ack as it sent it.
    assert.deepEqual((await sdk.getTwin()).properties.reported.targetTemperature, ack);
  });

  it("Plug and Play: a component (__t: c) reported and read back; a component property set through the twin, acknowledged inside the component", async () => {
    const sdk = await connect(device("controller"), {
      modelId: "dtmi:com:example:TemperatureController;1",
    });
    await sdk.report({
      serialNumber: "alwinexlepaho8329",
      thermostat1: { __t: "c", maxTempSinceLastReboot: 25.3 },
    });
    const reported = (await sdk.getTwin()).properties.reported;
    assert.deepEqual(reported.thermostat1, { __t: "c", maxTempSinceLastReboot: 25.3 });
    const shown = await digitalTwinOf("controller");
    assert.equal(shown.serialNumber, "alwinexlepaho8329");
    const component = shown.thermostat1 as Record<string, unknown>;
    assert.equal(component.maxTempSinceLastReboot, 25.3);
    assert.equal(typeof component.$metadata, "object");

    await sdk.watchDesired();
    await sdk.desired.next("the initial properties.desired event");
    await patchTwin("controller", [
      { op: "add", path: "/thermostat1", value: { targetTemperature: 21.4, $metadata: {} } },
    ]);
    const pushed = await sdk.desired.next("the component's writable property");
    assert.deepEqual(membersOf(pushed), {
      thermostat1: { __t: "c", targetTemperature: 21.4 },
    });
    const av = versionOf(pushed);

    await sdk.report({
      thermostat1: {
        __t: "c",
        targetTemperature: { value: 21.4, ac: 200, av, ad: "Successfully executed patch" },
      },
    });
    const twin = await digitalTwinOf("controller");
    const thermostat1 = twin.thermostat1 as {
      targetTemperature: unknown;
      maxTempSinceLastReboot: unknown;
      $metadata: Record<string, Record<string, unknown>>;
    };
    assert.equal(thermostat1.targetTemperature, 21.4);
    assert.equal(thermostat1.maxTempSinceLastReboot, 25.3);
    const meta = thermostat1.$metadata.targetTemperature ?? {};
    assert.equal(meta.desiredValue, 21.4);
    assert.equal(meta.desiredVersion, av);
    assert.equal(meta.ackVersion, av);
    assert.equal(meta.ackCode, 200);
    assert.equal(meta.ackDescription, "Successfully executed patch");
  });

  it("a direct method: a function called through the API reaches onDeviceMethod and completes with the device's result; a 500 answer fails it", async () => {
    const sdk = await connect(device("rebooter"));
    await sdk.onMethod("reboot", () => ({ status: 200, body: { ok: true } }));
    await sdk.onMethod("selfTest", () => ({ status: 500, body: { reason: "sensor offline" } }));

    const call = await callFunction("rebooter", "reboot", { delay: 1 });
    const request = await sdk.methods.next("the reboot request");
    assert.equal(request.methodName, "reboot");
    assert.deepEqual(request.payload, { delay: 1 });
    const done = await finished("rebooter", call.requestId);
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, { ok: true });

    const failing = await callFunction("rebooter", "selfTest", {});
    assert.equal((await sdk.methods.next("the selfTest request")).methodName, "selfTest");
    const failed = await finished("rebooter", failing.requestId);
    assert.equal(failed.status, "failed");
    assert.deepEqual(failed.result, { reason: "sensor offline" });
    assert.equal(sdk.errors.unread, 0, `client errors: ${sdk.errors.items.join("; ")}`);
  });

  it("a method called while the device is offline waits (202, pending) and is delivered and completed once it connects and listens", async () => {
    const d = device("sleeper");
    const call = await callFunction("sleeper", "reboot", { delay: 5 });
    assert.equal(call.status, "pending");
    assert.equal(call.isOnline, false);

    const sdk = await connect(d);
    await sdk.onMethod("reboot", (request) => ({
      status: 200,
      body: { rebooted: request.payload },
    }));
    const request = await sdk.methods.next("the queued reboot request");
    assert.deepEqual(request.payload, { delay: 5 });
    const done = await finished("sleeper", call.requestId);
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, { rebooted: { delay: 5 } });
  });

  it("telemetry (sendEvent, PUBACK'd) reaches the application event stream as a telemetry event with its property bag and body", async () => {
    const sdk = await connect(device("sender"));
    const opened = await openEventStream(
      `http://127.0.0.1:${cluster.umbra.ready.api?.httpPort}`,
      `${devicePath("sender")}/events`,
      { key: ADMIN },
    );
    if (!(opened instanceof SseStream)) assert.fail(`events: ${opened.status}`);
    open.push(opened);
    // The API answers 200 only once the stream is subscribed: what follows is seen.
    await sdk.sendEvent({ t: 1 }, { k: "v", "with space": "a&b=c" });
    const event = JSON.parse((await opened.next()).data) as Record<string, unknown>;
    assert.equal(event.op, "telemetry");
    assert.equal(event.device, "sender");
    assert.equal(event.source, "device");
    assert.equal(typeof event.timestamp, "number");
    assert.deepEqual(event.properties, { k: "v", "with space": "a&b=c" });
    assert.deepEqual(event.body, { t: 1 });
  });

  it("the SDK's connection may use its own twin and device id only: other filters are refused (SUBACK 0x80), telemetry as another device id is PUBACK'd and reaches no stream", async () => {
    const sdk = await connect(device("confined"));
    device("neighbour");
    // Raw SUBSCRIBE and PUBLISH on the SDK's own connection (mqtt.js 4 under the SDK).
    const grant = (filter: string) =>
      new Promise<number>((resolve, reject) =>
        sdk.mqtt.subscribe(filter, { qos: 0 }, (error, granted) => {
          const code = granted?.[0]?.qos;
          if (code !== undefined) resolve(code);
          else reject(error ?? new Error(`no SUBACK code for ${filter}`));
        }),
      );
    assert.equal(await grant("devices/confined/messages/devicebound/#"), 0);
    for (const filter of [
      "devices/neighbour/messages/devicebound/#",
      "$iothub/twin/#",
      "$iothub/#",
      `$sys/${PID}/neighbour/image/#`,
    ])
      assert.equal(await grant(filter), 0x80, filter);

    const events = await openEventStream(
      `http://127.0.0.1:${cluster.umbra.ready.api?.httpPort}`,
      `/v1/products/${PID}/events`,
      { key: ADMIN },
    );
    if (!(events instanceof SseStream)) assert.fail(`events: ${events.status}`);
    open.push(events);
    await new Promise<void>((resolve, reject) =>
      sdk.mqtt.publish(
        "devices/neighbour/messages/events/",
        JSON.stringify({ forged: true }),
        { qos: 1 },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    // Its own telemetry, sent after on the same connection, is the first event.
    await sdk.sendEvent({ own: true });
    const first = JSON.parse((await events.next()).data) as Record<string, unknown>;
    assert.equal(first.device, "confined");
    assert.deepEqual(first.body, { own: true });
    // The connection stayed up through all of it.
    assert.equal((await sdk.getTwin()).properties.reported.$version !== undefined, true);
  });

  it("a wrong key is refused: open fails as unauthorized and the device gets nothing served", async () => {
    const d = device("impostor");
    const stranger = Buffer.alloc(32, 7).toString("base64");
    await assert.rejects(connect(d, { key: stranger }), (e: Error) => {
      assert.equal(e.name, "UnauthorizedError", `${e.name}: ${e.message}`);
      return true;
    });
    // Nothing was written on its behalf.
    const got = await cluster.http("GET", `${devicePath("impostor")}/shadow`, { key: ADMIN });
    assert.equal(got.status, 404, JSON.stringify(got.body));
  });

  it("X.509: a device with a certificate of Umbra's CA connects, gets its twin and reports", async () => {
    const { certificate } = registerCertifiedDevice(
      cluster.redis.url,
      cluster.dataDir,
      PID,
      "x509-sensor",
    );
    const sdk = await AzureDevice.open({
      productId: PID,
      deviceName: "x509-sensor",
      port: cluster.tlsPort,
      // The SDK reads `ca` as a file name first (as README's snippet gives it), else as PEM.
      ca: cluster.caPath,
      x509: {
        cert: readFileSync(certificate.certPath, "utf8"),
        key: readFileSync(certificate.keyPath, "utf8"),
      },
    });
    open.push(sdk);
    const twin = await sdk.getTwin();
    assert.equal(typeof twin.properties.reported.$version, "number");
    await sdk.report({ battery: 88 });
    assert.deepEqual((await shadowOf("x509-sensor")).reported, { battery: 88 });
  });
});

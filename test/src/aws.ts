/**
 * AWS's official device SDKs, unmodified, as test devices:
 *
 * - `aws-iot-device-sdk-v2` (aws-crt): the request/response shadow client
 *   `IotShadowClientv2` over a raw MQTT 3.1.1 connection, an `Mqtt5Client` (plain TCP,
 *   username = product id, password = device token; the SDK appends `?SDK=…` to the
 *   username), or the mutual-TLS connection `AwsIotMqttConnectionConfigBuilder` builds;
 *   its delta and documents streams queued in order.
 * - `aws-iot-device-sdk` (v1): `thingShadow` over mutual TLS, its `status` and `delta`
 *   callbacks queued in order.
 */
import { once } from "node:events";
import { createRequire } from "node:module";
import type * as AwsV2 from "aws-iot-device-sdk-v2";
import { Inbox } from "./inbox.js";
import { withDeadline } from "./wait.js";

const require = createRequire(import.meta.url);
const v2 = require("aws-iot-device-sdk-v2") as typeof AwsV2;
const { io, iot, mqtt, mqtt5, iotshadow } = v2;

type ShadowClient = AwsV2.iotshadow.IotShadowClientv2;

/**
 * Lets a test process that used the v2 SDK end. aws-crt 1.33.1 on Node 20 keeps the event
 * loop alive once a streaming operation was opened, even after it, its client and the
 * connection are closed (seen against a bare Mosquitto too), and can abort while Node
 * frees its environment (a finalizer releasing a threadsafe function). Call it in the
 * last `after` hook: it disables the binding's threadsafe functions on exit, as aws-crt
 * itself does under Electron, and ends the process 2 s later if only native handles
 * still hold it (an unref'd timer: a process with nothing left exits on its own first).
 */
export const letAwsCrtExit = (): void => {
  const binding = require("aws-crt/dist/native/binding.js") as {
    default: { disable_threadsafe_function(): void };
  };
  process.once("exit", () => binding.default.disable_threadsafe_function());
  setTimeout(() => process.exit(), 2_000).unref();
};

/** How a v2 device reaches the edge. */
export type AwsV2Transport =
  | {
      readonly kind: "mqtt311" | "mqtt5";
      readonly port: number;
      readonly username: string;
      readonly password: string;
    }
  | {
      readonly kind: "mtls";
      readonly port: number;
      readonly certPath: string;
      readonly keyPath: string;
      readonly caPath: string;
    };

/** A request's rejection as the v2 client reports it (`modeledError`: the rejected body). */
export interface AwsRejection {
  readonly code: number;
  readonly message: string;
  readonly clientToken?: string;
}

const REQUEST_TIMEOUT_S = 10;

/** The v2 SDK's device: one connection and one `IotShadowClientv2` on it. */
export class AwsV2Device {
  readonly shadow: ShadowClient;
  readonly #stop: () => Promise<void>;
  readonly #streams: { close(): void }[] = [];

  private constructor(shadow: ShadowClient, stop: () => Promise<void>) {
    this.shadow = shadow;
    this.#stop = stop;
  }

  static async connect(clientId: string, transport: AwsV2Transport): Promise<AwsV2Device> {
    const options = {
      maxRequestResponseSubscriptions: 6,
      maxStreamingSubscriptions: 4,
      operationTimeoutInSeconds: REQUEST_TIMEOUT_S,
    };
    if (transport.kind === "mqtt5") {
      const client = new mqtt5.Mqtt5Client({
        hostName: "127.0.0.1",
        port: transport.port,
        connectProperties: {
          clientId,
          keepAliveIntervalSeconds: 60,
          username: transport.username,
          password: Buffer.from(transport.password),
        },
      });
      const connected = once(client, mqtt5.Mqtt5Client.CONNECTION_SUCCESS);
      const failed = once(client, mqtt5.Mqtt5Client.CONNECTION_FAILURE).then(([event]) => {
        throw new Error(`MQTT 5 connection failed: ${JSON.stringify(event)}`);
      });
      client.start();
      await withDeadline(Promise.race([connected, failed]), 10_000, () => "no MQTT 5 CONNACK");
      return new AwsV2Device(
        iotshadow.IotShadowClientv2.newFromMqtt5(client, options),
        async () => {
          const stopped = once(client, mqtt5.Mqtt5Client.STOPPED);
          client.stop();
          await withDeadline(stopped, 10_000, () => "the MQTT 5 client did not stop");
          client.close();
        },
      );
    }
    const mtls = transport.kind === "mtls" ? transport : undefined;
    const connection =
      transport.kind === "mqtt311"
        ? new mqtt.MqttClient().new_connection({
            client_id: clientId,
            host_name: "127.0.0.1",
            port: transport.port,
            clean_session: true,
            keep_alive: 60,
            username: transport.username,
            password: transport.password,
            socket_options: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.IPV4, 5_000),
          })
        : new mqtt.MqttClient().new_connection(
            iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(
              mtls?.certPath as string,
              mtls?.keyPath as string,
            )
              .with_certificate_authority_from_path(undefined, mtls?.caPath)
              .with_endpoint("127.0.0.1")
              .with_port(transport.port)
              .with_client_id(clientId)
              .with_clean_session(true)
              .build(),
          );
    await withDeadline(connection.connect(), 10_000, () => "no MQTT 3.1.1 CONNACK");
    return new AwsV2Device(
      iotshadow.IotShadowClientv2.newFromMqtt311(connection, options),
      async () => {
        await withDeadline(connection.disconnect(), 10_000, () => "no disconnect");
      },
    );
  }

  /**
   * The delta stream (`update/delta`) or the documents stream (`update/documents`) of
   * the thing's classic shadow or of a named one, open and subscribed.
   */
  async stream(
    kind: "delta",
    thingName: string,
    shadowName?: string,
  ): Promise<Inbox<AwsV2.iotshadow.model.ShadowDeltaUpdatedEvent>>;
  async stream(
    kind: "documents",
    thingName: string,
    shadowName?: string,
  ): Promise<Inbox<AwsV2.iotshadow.model.ShadowUpdatedEvent>>;
  async stream(
    kind: "delta" | "documents",
    thingName: string,
    shadowName?: string,
  ): Promise<Inbox<unknown>> {
    const inbox = new Inbox<unknown>();
    const s = this.shadow;
    const operation: AwsV2.mqtt_request_response.StreamingOperation<unknown> =
      kind === "delta"
        ? shadowName === undefined
          ? s.createShadowDeltaUpdatedStream({ thingName })
          : s.createNamedShadowDeltaUpdatedStream({ thingName, shadowName })
        : shadowName === undefined
          ? s.createShadowUpdatedStream({ thingName })
          : s.createNamedShadowUpdatedStream({ thingName, shadowName });
    const subscribed = new Promise<void>((resolve, reject) =>
      operation.on("subscriptionStatus", (event) => {
        if (event.type === 0) resolve();
        else reject(new Error(`the ${kind} stream's subscription failed: ${event.error}`));
      }),
    );
    operation.on("incomingPublish", (event) => inbox.push(event.message));
    operation.open();
    this.#streams.push(operation);
    await withDeadline(subscribed, 10_000, () => `the ${kind} stream never subscribed`);
    return inbox;
  }

  async close(): Promise<void> {
    for (const stream of this.#streams) stream.close();
    this.shadow.close();
    await this.#stop();
  }
}

/** The rejection a v2 request failed with (the test fails if it was accepted). */
export const rejectionOf = async (request: Promise<unknown>): Promise<AwsRejection> => {
  try {
    const answer = await request;
    throw new Error(`expected a rejection, got ${JSON.stringify(answer)}`);
  } catch (e) {
    const modeled = (e as { modeledError?: AwsRejection }).modeledError;
    if (modeled === undefined) throw e;
    return modeled;
  }
};

/** The part of v1's `thingShadow` the tests use (the package ships no types). */
interface ThingShadow {
  register(
    thing: string,
    options: Record<string, unknown>,
    callback: (error: Error | null, failedTopics?: unknown[]) => void,
  ): void;
  update(thing: string, state: Record<string, unknown>): string | null;
  get(thing: string, clientToken?: string): string | null;
  delete(thing: string, clientToken?: string): string | null;
  on(event: string, listener: (...args: unknown[]) => void): void;
  end(force: boolean, callback: () => void): void;
}

/** A `status` callback: the answer to one of the device's requests. */
export interface AwsV1Status {
  readonly thing: string;
  readonly stat: "accepted" | "rejected";
  readonly clientToken: string;
  readonly body: Record<string, unknown>;
}

/** v1's `thingShadow` over mutual TLS, with its answers and deltas queued. */
export class AwsV1Device {
  readonly shadow: ThingShadow;
  readonly statuses = new Inbox<AwsV1Status>();
  readonly deltas = new Inbox<Record<string, unknown>>();
  readonly timeouts = new Inbox<string>();

  private constructor(shadow: ThingShadow) {
    this.shadow = shadow;
    shadow.on("status", (thing, stat, clientToken, body) =>
      this.statuses.push({
        thing: thing as string,
        stat: stat as AwsV1Status["stat"],
        clientToken: clientToken as string,
        body: body as Record<string, unknown>,
      }),
    );
    shadow.on("delta", (_thing, body) => this.deltas.push(body as Record<string, unknown>));
    shadow.on("timeout", (_thing, clientToken) => this.timeouts.push(clientToken as string));
  }

  static async connect(options: {
    readonly clientId: string;
    readonly port: number;
    readonly certPath: string;
    readonly keyPath: string;
    readonly caPath: string;
  }): Promise<AwsV1Device> {
    const sdk = require("aws-iot-device-sdk") as {
      thingShadow(options: Record<string, unknown>): ThingShadow;
    };
    const shadow = sdk.thingShadow({
      ...options,
      host: "127.0.0.1",
      protocol: "mqtts",
      reconnectPeriod: 0,
      operationTimeout: 10_000,
    });
    const device = new AwsV1Device(shadow);
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        shadow.on("connect", () => resolve());
        shadow.on("error", (error) => reject(error));
      }),
      10_000,
      () => "the v1 thingShadow never connected",
    );
    return device;
  }

  /**
   * `register(thing, options)`: one SUBSCRIBE of its seven topics (by default; fewer with
   * `ignoreDeltas`, none until a request with `persistentSubscribe: false`); refused
   * ones fail it.
   */
  register(thing: string, options: Record<string, unknown> = {}): Promise<void> {
    return withDeadline(
      new Promise<void>((resolve, reject) =>
        this.shadow.register(thing, options, (error, failed) => {
          if (error !== null && error !== undefined) reject(error);
          else if (failed !== undefined && failed.length > 0)
            reject(new Error(`registration failed for ${JSON.stringify(failed)}`));
          else resolve();
        }),
      ),
      10_000,
      () => `registering ${thing} never completed`,
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.shadow.end(true, () => resolve()));
  }
}

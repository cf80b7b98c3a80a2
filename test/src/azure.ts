/**
 * Azure's official device SDK (`azure-iot-device` with `azure-iot-device-mqtt`,
 * unmodified) as a test device, connected to Umbra's TLS listener:
 *
 * - with a shared access key, through the connection string an Azure device is given,
 *   `HostName` naming the hub (its first label is the product) and `GatewayHostName`
 *   the edge's address, since the SDK dials `mqtts://{GatewayHostName || HostName}`;
 * - with a client certificate, through the SDK's `X509AuthenticationProvider` (see
 *   `x509Client` for why not the `x509=true` connection string).
 *
 * What the SDK hands the application — desired-property events, method requests,
 * client errors — is queued in order, to be awaited with a deadline.
 */
import { createRequire } from "node:module";
import type * as AzureDeviceSdk from "azure-iot-device";
import type * as AzureMqttSdk from "azure-iot-device-mqtt";
import type { MqttClient } from "mqtt";
import { Inbox } from "./inbox.js";
import { withDeadline } from "./wait.js";

const require = createRequire(import.meta.url);
const sdk = require("azure-iot-device") as typeof AzureDeviceSdk;
const { Mqtt } = require("azure-iot-device-mqtt") as typeof AzureMqttSdk;

type Client = AzureDeviceSdk.Client;
type Twin = AzureDeviceSdk.Twin;

/** The SDK's answer to a twin request or an open, or its failure, within this. */
const OPERATION_MS = 10_000;

/** The host name an Azure device is given: the hub's, whose first label is the product. */
export const hubHostName = (productId: string): string => `${productId}.azure-devices.net`;

/** The device connection string of a SAS device, pointed at the edge. */
export const connectionString = (
  productId: string,
  deviceName: string,
  key: string,
  port: number,
): string =>
  `HostName=${hubHostName(productId)};DeviceId=${deviceName};SharedAccessKey=${key};GatewayHostName=127.0.0.1:${port}`;

export interface AzureDeviceOptions {
  readonly productId: string;
  readonly deviceName: string;
  /** The edge's TLS port. */
  readonly port: number;
  /** PEM of the CA the edge's certificate chains to (Umbra's development CA). */
  readonly ca: string;
  /** The device key (SAS), or … */
  readonly key?: string;
  /** … a client certificate and its key, PEM (X.509). */
  readonly x509?: { readonly cert: string; readonly key: string };
  /** A Plug and Play model id (`setOptions({ modelId })`: `&model-id=` in the username). */
  readonly modelId?: string;
}

/** A direct method request as the device's handler got it. */
export interface MethodCall {
  readonly methodName: string;
  readonly requestId: string;
  readonly payload: unknown;
}

/** What a method handler answers: `response.send(status, body)`. */
export interface MethodAnswer {
  readonly status: number;
  readonly body?: unknown;
}

/**
 * The SDK's X.509 device. `Client.fromConnectionString` with `x509=true` builds its
 * `X509AuthenticationProvider` from HostName and DeviceId alone and drops
 * GatewayHostName, so that client would dial the hub's own name; the provider the SDK
 * exports takes the same credentials object the transport reads, gateway included.
 */
const x509Client = (o: AzureDeviceOptions, x509: { cert: string; key: string }): Client => {
  const provider = new sdk.X509AuthenticationProvider({
    host: hubHostName(o.productId),
    deviceId: o.deviceName,
    gatewayHostName: `127.0.0.1:${o.port}`,
    x509,
  } as ConstructorParameters<typeof sdk.X509AuthenticationProvider>[0]);
  return sdk.Client.fromAuthenticationProvider(provider, Mqtt);
};

export class AzureDevice {
  readonly client: Client;
  /** `properties.desired` events of the twin, in order (see `watchDesired`). */
  readonly desired = new Inbox<Record<string, unknown>>();
  /** Direct method requests the device's handlers received, in order. */
  readonly methods = new Inbox<MethodCall>();
  /** `error` events of the client (an unhandled one would end the test process). */
  readonly errors = new Inbox<Error>();
  /** Every filter the SDK subscribed with and the SUBACK code it got (0x80: refused). */
  readonly #grants = new Map<string, number>();
  readonly #granted = new Inbox<string>();
  #twin: Twin | undefined;

  private constructor(client: Client) {
    this.client = client;
    client.on("error", (error: Error) => this.errors.push(error));
  }

  /**
   * Creates the SDK's client, sets its options (CA, client certificate, model id) and
   * opens it: resolves once the edge has accepted the CONNECT.
   */
  static async open(o: AzureDeviceOptions): Promise<AzureDevice> {
    const device = new AzureDevice(AzureDevice.#client(o));
    await device.client.setOptions({
      ca: o.ca,
      ...(o.x509 === undefined ? {} : o.x509),
      ...(o.modelId === undefined ? {} : { modelId: o.modelId }),
    });
    try {
      await withDeadline(device.client.open(), OPERATION_MS, () => "the SDK's open did not end");
    } catch (error) {
      await device.close();
      throw error;
    }
    device.#watchSubscriptions();
    return device;
  }

  static #client(o: AzureDeviceOptions): Client {
    if (o.x509 !== undefined) return x509Client(o, o.x509);
    if (o.key === undefined) throw new Error("an Azure test device needs a key or a certificate");
    return sdk.Client.fromConnectionString(
      connectionString(o.productId, o.deviceName, o.key, o.port),
      Mqtt,
    );
  }

  /**
   * The SDK subscribes on its own when a twin, method or desired listener first needs
   * it and tells the application nothing; a test that writes desired state or calls a
   * method must wait for that SUBACK, or the edge may push before the device listens.
   * Read from the mqtt.js client the SDK's transport opened (observed, not changed).
   */
  #watchSubscriptions(): void {
    const mqtt = this.mqtt;
    const asked = new Map<number, string[]>();
    mqtt.on("packetsend", (packet) => {
      if (packet.cmd === "subscribe" && packet.messageId !== undefined)
        asked.set(
          packet.messageId,
          packet.subscriptions.map((s) => s.topic),
        );
    });
    mqtt.on("packetreceive", (packet) => {
      if (packet.cmd !== "suback" || packet.messageId === undefined) return;
      const filters = asked.get(packet.messageId) ?? [];
      asked.delete(packet.messageId);
      filters.forEach((filter, i) => {
        // MQTT 3.1.1, as the SDK speaks: one return code per filter.
        const code = packet.granted[i];
        this.#grants.set(filter, typeof code === "number" ? code : 0x80);
        this.#granted.push(filter);
      });
    });
  }

  /**
   * The mqtt.js client (4.x, the SDK's own dependency) the SDK's transport opened: for
   * what the SDK does not show, and for the tests that step outside its calls.
   */
  get mqtt(): MqttClient {
    return (this.client as unknown as { _transport: { _mqtt: { _mqttClient: MqttClient } } })
      ._transport._mqtt._mqttClient;
  }

  /** Waits for the SUBACK of `filter`; its code (0x80: refused). */
  async subscribed(filter: string, timeoutMs = OPERATION_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const code = this.#grants.get(filter);
      if (code !== undefined) return code;
      await this.#granted.next(`the SUBACK of ${filter}`, Math.max(1, deadline - Date.now()));
    }
  }

  /** `client.getTwin()`: the twin with its desired and reported properties now. */
  async getTwin(): Promise<Twin> {
    this.#twin = await withDeadline(this.client.getTwin(), OPERATION_MS, () => "no twin");
    return this.#twin;
  }

  /** `twin.properties.reported.update(patch)`: resolves when the edge accepted it. */
  async report(patch: Record<string, unknown>): Promise<void> {
    const twin = this.#twin ?? (await this.getTwin());
    await withDeadline(
      new Promise<void>((resolve, reject) =>
        twin.properties.reported.update(patch, (error?: Error) =>
          error ? reject(error) : resolve(),
        ),
      ),
      OPERATION_MS,
      () => `no answer to the reported patch ${JSON.stringify(patch)}`,
    );
  }

  /**
   * Listens to `properties.desired` and waits until the edge granted the desired
   * subscription. The SDK fires the event at once with the desired properties it holds
   * (those of the last getTwin), then with each patch the hub sends; every getTwin fires
   * it again with the whole desired section.
   */
  async watchDesired(): Promise<void> {
    const twin = this.#twin ?? (await this.getTwin());
    twin.on("properties.desired", (patch: Record<string, unknown>) =>
      this.desired.push(structuredClone(patch)),
    );
    const code = await this.subscribed("$iothub/twin/PATCH/properties/desired/#");
    if (code >= 0x80) throw new Error(`the desired-properties subscription was refused (${code})`);
  }

  /**
   * `client.onDeviceMethod(name, …)` answering `answer(request)`; waits until the
   * edge granted the methods subscription.
   */
  async onMethod(methodName: string, answer: (call: MethodCall) => MethodAnswer): Promise<void> {
    this.client.onDeviceMethod(methodName, (request, response) => {
      const call = {
        methodName: request.methodName,
        requestId: request.requestId,
        payload: request.payload,
      };
      this.methods.push(call);
      const { status, body } = answer(call);
      response.send(status, body, (error?: Error) => {
        if (error) this.errors.push(error);
      });
    });
    const code = await this.subscribed("$iothub/methods/POST/#");
    if (code >= 0x80) throw new Error(`the methods subscription was refused (${code})`);
  }

  /** `client.sendEvent(message)` with a JSON body and properties: resolves on PUBACK. */
  async sendEvent(body: unknown, properties: Record<string, string> = {}): Promise<void> {
    const message = new sdk.Message(JSON.stringify(body));
    for (const [k, v] of Object.entries(properties)) message.properties.add(k, v);
    await withDeadline(this.client.sendEvent(message), OPERATION_MS, () => "no PUBACK");
  }

  async close(): Promise<void> {
    await withDeadline(this.client.close(), OPERATION_MS, () => "the client did not close").catch(
      () => {},
    );
  }
}

/**
 * The official Alibaba Cloud device SDK (`alibabacloud-iot-device-sdk`, unmodified) as
 * a test device: what it receives on `/shadow/get/{pk}/{dn}` queued in order, and the
 * SUBACKs it got (the SDK subscribes 16 filters on every connect and hides the answers).
 */
import { createRequire } from "node:module";
import type { MqttClient } from "mqtt";
import { Inbox } from "./inbox.js";

/** The part of the SDK's device the tests use (it ships no types). */
export interface AliyunSdkDevice {
  on(event: "connect" | "error" | "close" | "offline", listener: (args: unknown[]) => void): void;
  onShadow(callback: (message: AliyunShadowMessage) => void): void;
  postShadow(reported: Record<string, unknown>): void;
  getShadow(): void;
  deleteShadow(keys?: string | string[]): void;
  publish(topic: string, payload: string, options?: { qos: 0 | 1 }, cb?: () => void): void;
  subscribe(
    topic: string,
    options: { qos: 0 | 1 },
    cb: (error: Error | null, granted: { qos: number }[]) => void,
  ): void;
  end(force?: boolean, cb?: () => void): void;
  readonly _mqttClient: MqttClient;
}

interface AliyunSdk {
  device(config: Record<string, unknown>): AliyunSdkDevice;
}

/** A message on `/shadow/get/…`: `reply` (an answer) or `control` (desired pushed). */
export interface AliyunShadowMessage {
  readonly method: "reply" | "control";
  readonly payload: {
    readonly status: "success" | "error";
    readonly version?: number;
    readonly state?: {
      readonly reported?: Record<string, unknown>;
      readonly desired?: Record<string, unknown>;
    };
    readonly metadata?: Record<string, unknown>;
    readonly content?: { readonly errorcode: string; readonly errormessage: string };
  };
  readonly version?: number;
  readonly timestamp: number;
}

const sdk = createRequire(import.meta.url)("alibabacloud-iot-device-sdk") as AliyunSdk;

export interface AliyunDeviceOptions {
  readonly brokerUrl: string;
  readonly productKey: string;
  readonly deviceName: string;
  readonly deviceSecret: string;
  readonly keepalive?: number;
}

export class AliyunTestDevice {
  readonly sdk: AliyunSdkDevice;
  /** Granted codes of every SUBACK received, in order (0x80 = refused). */
  readonly subacks: number[] = [];
  readonly #messages = new Inbox<AliyunShadowMessage>();

  private constructor(device: AliyunSdkDevice) {
    this.sdk = device;
    device._mqttClient.on("packetreceive", (packet) => {
      if (packet.cmd === "suback") this.subacks.push(...(packet.granted as number[]));
    });
    device.onShadow((message) => this.#messages.push(message));
  }

  /** A device with the SDK's defaults (clean=false, keep-alive 60 s), once connected. */
  static async connect(
    options: AliyunDeviceOptions,
    deadlineMs = 10_000,
  ): Promise<AliyunTestDevice> {
    const device = new AliyunTestDevice(sdk.device({ ...options }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        device.sdk.end(true);
        reject(new Error(`the Alibaba SDK device did not connect within ${deadlineMs} ms`));
      }, deadlineMs);
      device.sdk.on("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      device.sdk.on("error", (args) => {
        clearTimeout(timer);
        device.sdk.end(true);
        reject(args[0] instanceof Error ? args[0] : new Error(String(args[0])));
      });
    });
    return device;
  }

  /** The CONNACK refusal code a device with these options gets (the SDK would retry forever). */
  static async refusal(
    options: AliyunDeviceOptions,
    deadlineMs = 10_000,
  ): Promise<number | undefined> {
    try {
      const device = await AliyunTestDevice.connect(options, deadlineMs);
      device.sdk.end(true);
      return 0;
    } catch (e) {
      return (e as { code?: number }).code;
    }
  }

  /** The next message on `/shadow/get/…`, in order of arrival. */
  next(deadlineMs = 10_000): Promise<AliyunShadowMessage> {
    return this.#messages.next("message on /shadow/get", deadlineMs);
  }

  /** Messages received and not read yet. */
  get unread(): number {
    return this.#messages.unread;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sdk.end(false, () => resolve()));
  }
}

import {
  decodeDeliver,
  deviceSubject,
  type NatsConnection,
  type Subscription,
  Tag,
} from "@umbra/bus";
import { type DeviceId, deviceKey, parseDeviceKey } from "@umbra/dialects";
import type { LimitedLog } from "@umbra/runtime";
import { messageOf } from "@umbra/runtime";
import type { DeviceRegistry } from "@umbra/store";
import type { AuthResult, DeviceSession } from "../backend.js";
import { unreachable } from "./authenticate.js";

/** A session's sub-devices and its subscriptions to their device subjects. */
interface ActingEntry {
  readonly session: DeviceSession;
  readonly proxies: Map<string, Subscription>;
}

/**
 * Gateways acting for their registered sub-devices (seed 003): a gateway session
 * subscribes to each sub-device's subject, so cloud messages to it reach the gateway,
 * and may use the sub-device's topics. The sub-devices are read while the gateway
 * authenticates and again when the API changes them (a topology frame).
 */
export class GatewayActingFor {
  readonly #nc: NatsConnection;
  readonly #registry: DeviceRegistry | undefined;
  readonly #log: LimitedLog;
  /** Every open session by id (most with no sub-device). */
  readonly #entries = new Map<string, ActingEntry>();
  /** Gateway sessions on this edge by the sub-device keys they act for. */
  readonly #actingFor = new Map<string, DeviceSession>();
  /**
   * Sub-devices read while authenticating a gateway, taken by `opened` (keyed by device
   * key): read before CONNACK so that the gateway's first SUBSCRIBE already sees them.
   */
  readonly #atConnect = new Map<string, readonly string[]>();

  constructor(nc: NatsConnection, registry: DeviceRegistry | undefined, log: LimitedLog) {
    this.#nc = nc;
    this.#registry = registry;
    this.#log = log;
  }

  /** After authentication: reads the device's sub-devices, or refuses if it cannot. */
  async readAtConnect(accepted: AuthResult & { ok: true }): Promise<AuthResult> {
    const registry = this.#registry;
    if (registry === undefined) return accepted;
    const key = deviceKey(accepted.device);
    try {
      const subs = await registry.subDevices(key);
      if (subs.length > 0) this.#atConnect.set(key, subs);
    } catch (e) {
      return unreachable(e);
    }
    return accepted;
  }

  opened(session: DeviceSession): void {
    const entry: ActingEntry = { session, proxies: new Map() };
    this.#entries.set(session.id, entry);
    const subs = this.#atConnect.get(session.deviceKey);
    this.#atConnect.delete(session.deviceKey);
    this.#setSubDevices(entry, subs ?? []);
  }

  closed(session: DeviceSession): void {
    const entry = this.#entries.get(session.id);
    if (entry === undefined) return;
    this.#setSubDevices(entry, []);
    this.#entries.delete(session.id);
  }

  actsFor(session: DeviceSession, device: DeviceId): boolean {
    return this.#entries.get(session.id)?.proxies.has(deviceKey(device)) === true;
  }

  /** The gateway session on this edge acting for the device `key`, if any. */
  gatewayOf(key: string): DeviceSession | undefined {
    return this.#actingFor.get(key);
  }

  /** The keys of the sub-devices `session` acts for; undefined once it closed. */
  subDevicesOf(session: DeviceSession): Iterable<string> | undefined {
    return this.#entries.get(session.id)?.proxies.keys();
  }

  /** The API changed the gateway's sub-devices: read them again. */
  reload(session: DeviceSession): void {
    const registry = this.#registry;
    if (registry === undefined) return;
    registry.subDevices(session.deviceKey).then(
      (subs) => {
        const entry = this.#entries.get(session.id);
        if (entry !== undefined) this.#setSubDevices(entry, subs);
      },
      (e: unknown) =>
        this.#log.warn(
          { device: session.deviceKey, err: messageOf(e) },
          "gateway sub-devices not re-read; the session keeps the ones it had",
        ),
    );
  }

  stop(): void {
    for (const entry of this.#entries.values())
      for (const proxy of entry.proxies.values()) proxy.unsubscribe();
    this.#entries.clear();
    this.#actingFor.clear();
  }

  /**
   * Makes `subs` the sub-devices a gateway session acts for: cloud messages to each (its
   * device subject) reach the gateway, and answers to its requests for them come back.
   */
  #setSubDevices(entry: ActingEntry, subs: readonly string[]): void {
    const wanted = new Set(subs);
    for (const [key, proxy] of entry.proxies) {
      if (wanted.has(key)) continue;
      proxy.unsubscribe();
      entry.proxies.delete(key);
      if (this.#actingFor.get(key) === entry.session) this.#actingFor.delete(key);
    }
    for (const key of wanted) {
      if (entry.proxies.has(key)) continue;
      const device = parseDeviceKey(key);
      if (device === undefined) continue;
      const { session } = entry;
      const proxy = this.#nc.subscribe(deviceSubject(device.productId, device.deviceName), {
        callback: (error, msg) => {
          // Deliveries only: a take-over of the sub-device's own session is not the gateway's.
          if (error !== null || msg.data[0] !== Tag.Deliver) return;
          let messages: ReturnType<typeof decodeDeliver>;
          try {
            messages = decodeDeliver(msg.data);
          } catch {
            return;
          }
          for (const m of messages) session.deliver(m.topic, m.payload);
        },
      });
      entry.proxies.set(key, proxy);
      this.#actingFor.set(key, session);
    }
  }
}

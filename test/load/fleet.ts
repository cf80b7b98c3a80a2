/**
 * One load thread's simulated devices (plain TypeScript: this is the hot path). Each
 * device is an mqtt.js client that connects at the scenario's pace and then writes on a
 * fixed period whether or not earlier writes were answered (open loop, as real devices
 * do): a report over MQTT (`…/image/update`, answered by `…/update/accepted`) or, for the
 * scenario's cloud share, a desired write through the API (`PATCH …/shadow`, answered by
 * the delta the device receives).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as pause } from "node:timers/promises";
import { connectAsync, type MqttClient } from "mqtt";
import { payload, versionOf } from "../bench/load.js";
import { ApiClient } from "./api-client.js";
import {
  type Counters,
  emptyCounters,
  type FleetOutcome,
  type FleetSpec,
  KIND,
} from "./protocol.js";

/** Epoch milliseconds with sub-millisecond resolution, comparable across threads. */
const now = (): number => performance.timeOrigin + performance.now();

/** Connection handshakes under way at once: past it the pace slows rather than piling up. */
const MAX_CONNECTING = 500;
/** HTTP requests at once per thread for registration and the final shadow check. */
const HTTP_BATCH = 32;

/** Completion records as (time, latency, kind) triples, without a boxed number each. */
class Records {
  private data = new Float64Array(3 * 4096);
  private length = 0;
  push(time: number, latency: number, kind: number): void {
    if (this.length + 3 > this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = time;
    this.data[this.length++] = latency;
    this.data[this.length++] = kind;
  }
  /** The records so far (a copy whose buffer can be transferred), and a fresh start. */
  take(): Float64Array {
    const taken = this.data.slice(0, this.length);
    this.length = 0;
    return taken;
  }
}

interface SimDevice {
  readonly index: number;
  readonly name: string;
  readonly client: MqttClient;
  readonly updateTopic: string;
  readonly acceptedTopic: string;
  readonly rejectedTopic: string;
  readonly deltaTopic: string;
  readonly shadowPath: string;
  /** Send times of device writes awaiting update/accepted: answers come in order. */
  readonly pendingDevice: number[];
  /** Send times of cloud writes awaiting their delta, by the setpoint each one wrote. */
  readonly pendingCloud: Map<number, number>;
  /** Writes made so far: decides which of them are cloud writes. */
  writes: number;
  /** Writes answered: accepted device writes and cloud writes answered 200. */
  answered: number;
  lastVersion: number;
  timer: NodeJS.Timeout | undefined;
  alive: boolean;
}

const SETPOINT_FIELD = Buffer.from('"setpoint":');

/** The setpoint a delta carries (a non-negative integer), or undefined. */
const setpointOf = (message: Buffer): number | undefined => {
  const at = message.indexOf(SETPOINT_FIELD);
  if (at < 0) return undefined;
  let value = 0;
  let digits = 0;
  for (let i = at + SETPOINT_FIELD.length; i < message.length; i++) {
    const c = message[i] as number;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
    digits++;
  }
  return digits === 0 ? undefined : value;
};

/** Whether write number `k` of a device is a cloud write: exactly `share` of them are. */
export const isCloudWrite = (k: number, share: number): boolean =>
  Math.floor((k + 1) * share + 1e-9) > Math.floor(k * share + 1e-9);

export class Fleet {
  readonly counters: Counters = emptyCounters();
  readonly records = new Records();
  /** Problems not yet reported; at most a few per tick. */
  readonly problems: string[] = [];
  private readonly devices: SimDevice[] = [];
  private readonly api: ApiClient;
  private sending = true;
  private closing = false;
  /** Writes awaiting their answer (device + cloud), and HTTP answers awaited. */
  private outstanding = 0;
  private lost = 0;
  private unexpected = 0;
  private outOfOrder = 0;
  private seq = 0;
  private onIdle: (() => void) | undefined;

  constructor(private readonly spec: FleetSpec) {
    this.api = new ApiClient(spec.apiUrl);
  }

  private problem(text: string): void {
    if (this.problems.length < 5) this.problems.push(text);
  }

  /** Registers this thread's devices through the API (409: already there). */
  async register(): Promise<void> {
    const { first, count, product } = this.spec;
    for (let start = 0; start < count && this.sending; start += HTTP_BATCH) {
      const batch = Array.from({ length: Math.min(HTTP_BATCH, count - start) }, async (_, j) => {
        const name = `d${first + start + j}`;
        const answer = await this.api.call("POST", `/v1/products/${product}/devices`, { name });
        if (answer.status !== 201 && answer.status !== 409)
          throw new Error(`registering ${name}: HTTP ${answer.status} ${answer.body}`);
        this.counters.registered++;
      });
      await Promise.all(batch);
    }
  }

  /** Connects every device at the thread's pace; each starts writing once subscribed. */
  async connectAll(): Promise<void> {
    const started = performance.now();
    const interval = 1000 / this.spec.connectRate;
    const connecting = new Set<Promise<void>>();
    for (let k = 0; k < this.spec.count && this.sending; k++) {
      const wait = started + k * interval - performance.now();
      if (wait >= 1) await pause(wait);
      while (connecting.size >= MAX_CONNECTING) await Promise.race(connecting);
      const attempt: Promise<void> = this.connectOne(this.spec.first + k).finally(() =>
        connecting.delete(attempt),
      );
      connecting.add(attempt);
    }
    await Promise.all(connecting);
  }

  private async connectOne(i: number): Promise<void> {
    const { product, mqttUrls, qos } = this.spec;
    const name = `d${i}`;
    const base = `$sys/${product}/${name}/image/update`;
    const startedAt = now();
    let client: MqttClient | undefined;
    try {
      // The MQTT username is the product id, the client id the device name (auth off).
      client = await connectAsync(
        mqttUrls[i % mqttUrls.length] as string,
        {
          clientId: name,
          username: product,
          protocolVersion: 4,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: 30_000,
        },
        false,
      );
      const granted = await client.subscribeAsync(
        [`${base}/accepted`, `${base}/rejected`, `${base}/delta`],
        { qos },
      );
      if (granted.some((grant) => grant.qos === 128)) throw new Error("subscription refused");
    } catch (error) {
      client?.end(true);
      this.counters.connectFailures++;
      this.problem(`${name} could not connect: ${(error as Error).message}`);
      return;
    }
    const connectedAt = now();
    this.records.push(connectedAt, connectedAt - startedAt, KIND.connect);
    this.counters.connected++;
    const device: SimDevice = {
      index: i,
      name,
      client,
      updateTopic: base,
      acceptedTopic: `${base}/accepted`,
      rejectedTopic: `${base}/rejected`,
      deltaTopic: `${base}/delta`,
      shadowPath: `/v1/products/${product}/devices/${name}/shadow`,
      pendingDevice: [],
      pendingCloud: new Map(),
      writes: 0,
      answered: 0,
      lastVersion: 0,
      timer: undefined,
      alive: true,
    };
    this.devices.push(device);
    client.on("message", (topic, message) => this.received(device, topic, message));
    client.on("error", (error) => this.problem(`${name}: ${error.message}`));
    client.on("close", () => this.disconnected(device));
    if (this.sending) this.schedule(device);
  }

  /** A write every period, the first at a random point of it, so devices do not align. */
  private schedule(device: SimDevice): void {
    const period = 1000 / this.spec.updateRate;
    device.timer = setTimeout(() => {
      this.write(device);
      device.timer = setInterval(() => this.write(device), period);
    }, Math.random() * period);
  }

  private write(device: SimDevice): void {
    if (!this.sending || !device.alive) return;
    const k = device.writes++;
    // Offset by the device's index so that devices take their cloud writes in turns,
    // not all in the same period.
    if (isCloudWrite(k + device.index, this.spec.cloudShare)) this.cloudWrite(device, k);
    else {
      device.pendingDevice.push(now());
      this.outstanding++;
      this.counters.sentDevice++;
      device.client.publish(device.updateTopic, payload(this.seq++), { qos: this.spec.qos });
    }
  }

  /** Sets desired.setpoint to the write's number: its delta tells which write it answers. */
  private cloudWrite(device: SimDevice, k: number): void {
    device.pendingCloud.set(k, now());
    this.outstanding += 2; // the delta and the HTTP answer
    this.counters.sentCloud++;
    const failed = (why: string) => {
      this.counters.rejected++;
      this.problem(`${device.name}: cloud write ${why}`);
      if (device.pendingCloud.delete(k)) this.outstanding--;
    };
    this.api
      .call(
        "PATCH",
        device.shadowPath,
        { desired: { setpoint: k } },
        "application/merge-patch+json",
      )
      .then(
        (answer) => {
          if (answer.status === 200) device.answered++;
          else failed(`answered HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
        },
        (error: Error) => failed(`failed: ${error.message}`),
      )
      .finally(() => {
        this.outstanding--;
        this.checkIdle();
      });
  }

  private received(device: SimDevice, topic: string, message: Buffer): void {
    const at = now();
    if (topic === device.deltaTopic) {
      // Device reports also bring a delta (desired still differs): only a pending write counts.
      const setpoint = setpointOf(message);
      const sentAt = setpoint === undefined ? undefined : device.pendingCloud.get(setpoint);
      if (setpoint === undefined || sentAt === undefined) return;
      device.pendingCloud.delete(setpoint);
      this.outstanding--;
      this.records.push(at, at - sentAt, KIND.cloud);
    } else {
      const sentAt = device.pendingDevice.shift();
      if (sentAt === undefined) {
        this.unexpected++;
        return;
      }
      this.outstanding--;
      if (topic === device.rejectedTopic) {
        this.counters.rejected++;
        this.problem(`${device.name}: update rejected: ${message.toString().slice(0, 200)}`);
      } else {
        const version = versionOf(message);
        if (version === undefined || version <= device.lastVersion) this.outOfOrder++;
        else device.lastVersion = version;
        device.answered++;
        this.records.push(at, at - sentAt, KIND.device);
      }
    }
    this.checkIdle();
  }

  private disconnected(device: SimDevice): void {
    if (!device.alive || this.closing) return;
    device.alive = false;
    clearInterval(device.timer);
    this.counters.connected--;
    this.counters.disconnects++;
    this.problem(`${device.name}: connection closed`);
    // Its pending writes will never be answered now.
    const gone = device.pendingDevice.length + device.pendingCloud.size;
    this.lost += gone;
    this.outstanding -= gone;
    device.pendingDevice.length = 0;
    device.pendingCloud.clear();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (!this.sending && this.outstanding === 0) this.onIdle?.();
  }

  /** Stops new writes (and connections still to come); the thread then drains. */
  stopSending(): void {
    this.sending = false;
    for (const device of this.devices) clearInterval(device.timer);
  }

  /** Waits until every write is answered or the drain time runs out; the rest are lost. */
  async drain(): Promise<void> {
    this.stopSending();
    if (this.outstanding > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        timer = setTimeout(resolve, this.spec.drainMs);
      });
      clearTimeout(timer);
      this.onIdle = undefined;
    }
    for (const device of this.devices) {
      this.lost += device.pendingDevice.length + device.pendingCloud.size;
      device.pendingDevice.length = 0;
      device.pendingCloud.clear();
    }
  }

  /**
   * Reads every device's shadow back: its version counts the writes applied, which must
   * be exactly the writes answered — more is a write applied twice or answered nowhere,
   * fewer an answered write that was lost.
   */
  async verify(): Promise<Pick<FleetOutcome, "checked" | "versionMismatches" | "firstMismatch">> {
    let checked = 0;
    let versionMismatches = 0;
    let firstMismatch: string | null = null;
    for (let start = 0; start < this.devices.length; start += HTTP_BATCH) {
      const batch = this.devices.slice(start, start + HTTP_BATCH).map(async (device) => {
        const answer = await this.api.call("GET", device.shadowPath);
        let version: number | undefined;
        if (answer.status === 404) version = 0;
        else if (answer.status === 200)
          version = (JSON.parse(answer.body) as { version?: number }).version;
        checked++;
        if (version !== device.answered) {
          versionMismatches++;
          firstMismatch ??= `${device.name}: shadow version ${version ?? `unreadable (HTTP ${answer.status})`}, ${device.answered} writes answered`;
        }
      });
      await Promise.all(batch);
    }
    return { checked, versionMismatches, firstMismatch };
  }

  close(): void {
    this.closing = true;
    for (const device of this.devices) {
      clearInterval(device.timer);
      device.client.end(true);
    }
    this.api.close();
  }

  outcome(
    check: Pick<FleetOutcome, "checked" | "versionMismatches" | "firstMismatch">,
  ): FleetOutcome {
    return {
      counters: { ...this.counters },
      lost: this.lost,
      unexpected: this.unexpected,
      outOfOrder: this.outOfOrder,
      ...check,
    };
  }
}

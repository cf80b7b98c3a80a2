/**
 * The simulated devices of the end-to-end benchmark: mqtt.js clients that each keep K
 * messages in flight and time every round trip. Runs inside a worker thread
 * (load.worker.ts) so several threads can share the devices on a big machine.
 */
import { performance } from "node:perf_hooks";
import { connectAsync, type MqttClient } from "mqtt";

export type Target = "mosquitto" | "umbra";
/** The topics Umbra's devices speak (`--dialect`). */
export type BenchDialect = "onenet" | "aws" | "azure";

export interface LoadSpec {
  readonly target: Target;
  readonly dialect: BenchDialect;
  /** mqtt://host:port */
  readonly url: string;
  /** This worker's devices: indexes first … first + count - 1. */
  readonly first: number;
  readonly count: number;
  readonly inflight: number;
  readonly qos: 0 | 1;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** How long to wait, after the window, for the answers still in flight. */
  readonly drainMs: number;
}

export interface LoadResult {
  /** Round trips answered (accepted, for Umbra) inside the measured window. */
  readonly completed: number;
  readonly sent: number;
  /** Update requests Umbra rejected, over the whole run: each one fails the run. */
  readonly rejected: number;
  /** Requests still unanswered when the drain time ran out. */
  readonly lost: number;
  /** Answers that came when nothing was pending on that device. */
  readonly unexpected: number;
  /** Accepted answers without a version, or whose version did not grow: out of order. */
  readonly outOfOrder: number;
  /** Disconnects and client errors, with the device they hit. */
  readonly errors: readonly string[];
  readonly firstRejection: string | null;
  /** Round-trip latencies (ms) of the window's round trips, in completion order. */
  readonly samples: Float64Array;
  /** Round trips completed in each TIMELINE_BUCKET_MS of the window, from its start. */
  readonly timeline: Uint32Array;
}

/** The resolution of `LoadResult.timeline`. */
export const TIMELINE_BUCKET_MS = 100;

/** The reported values every device sends, changing so each write changes the shadow. */
const reportedJson = (seq: number): string =>
  `{"temperature":${(20 + (seq % 1500) / 100).toFixed(2)},` +
  `"humidity":${(40 + (seq % 3700) / 100).toFixed(2)},"status":"ok"}`;

/** The update every device sends: OneNET's and AWS's envelope, or Azure's bare patch. */
export const payloadFor =
  (dialect: BenchDialect) =>
  (seq: number): string =>
    dialect === "azure" ? reportedJson(seq) : `{"state":{"reported":${reportedJson(seq)}}}`;

/** The OneNET / AWS update. */
export const payload = payloadFor("onenet");

/**
 * What an Umbra answer says: the shadow's version after an accepted write (`undefined`
 * when it carries none), or that the write was rejected.
 */
type Answer = number | "rejected" | undefined;

interface Device {
  readonly name: string;
  readonly client: MqttClient;
  /** The topic of request `seq` (Azure's carries a `$rid` of its own). */
  readonly publishTopic: (seq: number) => string;
  /** Reads an Umbra answer; null for Mosquitto, which echoes. */
  readonly answer: ((topic: string, message: Buffer) => Answer) | null;
  /** Send times of the requests in flight, oldest first: answers come in order. */
  readonly pending: number[];
  lastVersion: number;
}

/** OneNET and AWS: `{update}/accepted` with the version in its body, or `/rejected`. */
const umbraTopics = (update: string, name: string) => ({
  name,
  publish: () => update,
  subscribe: [`${update}/accepted`, `${update}/rejected`],
  answer: (topic: string, message: Buffer): Answer =>
    topic.endsWith("/rejected") ? "rejected" : versionOf(message),
});

const AZURE_ACCEPTED = "$iothub/twin/res/204/";

/**
 * Azure: a reported patch per `$rid`, answered `$iothub/twin/res/204/?$rid=…&$version=…`
 * (the new reported version in the topic, no body); any other status is a rejection.
 */
const azureTopics = (name: string) => ({
  name,
  publish: (seq: number) => `$iothub/twin/PATCH/properties/reported/?$rid=${seq}`,
  subscribe: ["$iothub/twin/res/#"],
  answer: (topic: string): Answer =>
    topic.startsWith(AZURE_ACCEPTED) ? azureVersionOf(topic) : "rejected",
});

const topicsOf = (target: Target, dialect: BenchDialect, i: number) =>
  target === "mosquitto"
    ? { name: `bench/${i}`, publish: () => `bench/${i}`, subscribe: [`bench/${i}`], answer: null }
    : dialect === "aws"
      ? umbraTopics(`$aws/things/d${i}/shadow/update`, `d${i}`)
      : dialect === "azure"
        ? azureTopics(`d${i}`)
        : umbraTopics(`$sys/bench/d${i}/image/update`, `d${i}`);

/** Umbra: the client id is the device name, the username names the product. */
const identityOf = (spec: LoadSpec, i: number) =>
  spec.target === "mosquitto"
    ? { clientId: `bench-${i}` }
    : spec.dialect === "azure"
      ? // The hub host name's first label is the product (as azure-iot-device connects).
        { clientId: `d${i}`, username: `bench.azure-devices.net/d${i}/?api-version=2021-04-12` }
      : { clientId: `d${i}`, username: "bench" };

const connectDevice = async (spec: LoadSpec, i: number): Promise<Device> => {
  const topics = topicsOf(spec.target, spec.dialect, i);
  const identity = identityOf(spec, i);
  const client = await connectAsync(
    spec.url,
    { ...identity, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 10_000 },
    false,
  ).catch((error: Error) => {
    throw new Error(`device ${topics.name} could not connect to ${spec.url}: ${error.message}`);
  });
  const granted = await client.subscribeAsync(topics.subscribe, { qos: spec.qos });
  const refused = granted.filter((grant) => grant.qos === 128).map((grant) => grant.topic);
  if (refused.length > 0) {
    client.end(true);
    throw new Error(`device ${topics.name}: subscription refused for ${refused.join(", ")}`);
  }
  return {
    name: topics.name,
    client,
    publishTopic: topics.publish,
    answer: topics.answer,
    pending: [],
    lastVersion: 0,
  };
};

/** Connects and subscribes every device of the spec, at most 100 handshakes at a time. */
export const connectDevices = async (spec: LoadSpec): Promise<Device[]> => {
  const devices: Device[] = [];
  try {
    for (let start = 0; start < spec.count; start += 100) {
      const batch = Array.from({ length: Math.min(100, spec.count - start) }, (_, j) =>
        connectDevice(spec, spec.first + start + j),
      );
      const settled = await Promise.allSettled(batch);
      for (const s of settled) if (s.status === "fulfilled") devices.push(s.value);
      const failed = settled.find((s) => s.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    }
    return devices;
  } catch (error) {
    closeDevices(devices);
    throw error;
  }
};

export const closeDevices = (devices: readonly Device[]): void => {
  for (const device of devices) device.client.end(true);
};

const VERSION_FIELD = Buffer.from(',"version":');

/**
 * The top-level `version` of an `update/accepted` answer. It is rendered after `state`
 * and `metadata`, so the last `,"version":` is the top-level one; reading only that
 * number keeps the load process's cost per answer close to the Mosquitto run's, where
 * nothing is parsed. A missing or unreadable number counts as out of order.
 */
export const versionOf = (message: Buffer): number | undefined => {
  const at = message.lastIndexOf(VERSION_FIELD);
  if (at < 0) return undefined;
  let version = 0;
  let digits = 0;
  for (let i = at + VERSION_FIELD.length; i < message.length; i++) {
    const c = message[i] as number;
    if (c < 0x30 || c > 0x39) break;
    version = version * 10 + (c - 0x30);
    digits++;
  }
  return digits === 0 || digits > 15 ? undefined : version;
};

const AZURE_VERSION = "&$version=";

/** The `$version` of an Azure twin answer's topic (`…/?$rid=…&$version=7`). */
export const azureVersionOf = (topic: string): number | undefined => {
  const at = topic.lastIndexOf(AZURE_VERSION);
  if (at < 0) return undefined;
  const digits = topic.slice(at + AZURE_VERSION.length);
  return /^[0-9]{1,15}$/.test(digits) ? Number(digits) : undefined;
};

/** A growable array of doubles: a million samples without a million boxed numbers. */
class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }
  /** A copy of exactly the recorded values (its buffer can be transferred). */
  take(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/**
 * Closed loop: every answer sends the next request, so each device keeps `inflight`
 * requests outstanding. Round trips finishing in [warm-up end, window end] are counted;
 * after the window no request is sent and the ones in flight get `drainMs` to come back.
 */
export const runLoad = (spec: LoadSpec, devices: readonly Device[]): Promise<LoadResult> =>
  new Promise((resolve) => {
    const samples = new Samples();
    const timeline = new Uint32Array(Math.ceil(spec.measureMs / TIMELINE_BUCKET_MS) + 1);
    const errors: string[] = [];
    let sent = 0;
    let rejected = 0;
    let unexpected = 0;
    let outOfOrder = 0;
    let firstRejection: string | null = null;
    let inFlight = 0;
    let sending = true;
    let finished = false;
    let seq = 0;

    const start = performance.now();
    const windowStart = start + spec.warmupMs;
    const windowEnd = windowStart + spec.measureMs;

    const body = payloadFor(spec.dialect);
    const send = (device: Device) => {
      device.pending.push(performance.now());
      inFlight++;
      sent++;
      device.client.publish(device.publishTopic(seq), body(seq), { qos: spec.qos });
      seq++;
    };

    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      for (const device of devices) device.client.removeAllListeners("message");
      resolve({
        completed: samples.length,
        sent,
        rejected,
        lost: inFlight,
        unexpected,
        outOfOrder,
        errors,
        firstRejection,
        samples: samples.take(),
        timeline,
      });
    };

    let drainTimer: NodeJS.Timeout | undefined;
    setTimeout(() => {
      sending = false;
      if (inFlight === 0) finish();
      else drainTimer = setTimeout(finish, spec.drainMs);
    }, windowEnd - start);

    for (const device of devices) {
      device.client.on("message", (topic, message) => {
        const now = performance.now();
        const sentAt = device.pending.shift();
        if (sentAt === undefined) {
          unexpected++;
          return;
        }
        inFlight--;
        const answer = device.answer === null ? undefined : device.answer(topic, message);
        if (answer === "rejected") {
          rejected++;
          firstRejection ??= `${device.name}: ${topic} ${message.toString()}`;
        } else {
          if (device.answer !== null) {
            // Umbra's accepted answer carries the shadow's version: it grows per device.
            if (answer === undefined || answer <= device.lastVersion) outOfOrder++;
            else device.lastVersion = answer;
          }
          if (now >= windowStart && now <= windowEnd) {
            samples.push(now - sentAt);
            const bucket = Math.floor((now - windowStart) / TIMELINE_BUCKET_MS);
            timeline[bucket] = (timeline[bucket] ?? 0) + 1;
          }
        }
        if (sending) send(device);
        else if (inFlight === 0) finish();
      });
      const lostConnection = (why: string) => {
        if (finished) return;
        errors.push(`${device.name}: ${why}`);
        // Its requests will never be answered: stop waiting for them.
        inFlight -= device.pending.length;
        device.pending.length = 0;
        if (!sending && inFlight === 0) finish();
      };
      device.client.on("error", (error) => lostConnection(error.message));
      device.client.on("close", () => lostConnection("connection closed"));
    }

    // From here on, answers and the two timers drive everything.
    for (const device of devices) for (let k = 0; k < spec.inflight; k++) send(device);
  });

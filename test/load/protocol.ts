/** What the load threads (fleet.worker.ts) and the run (run.ts) say to each other. */

/** One load thread's share of the devices. */
export interface FleetSpec {
  readonly thread: number;
  readonly product: string;
  /** Device indexes first … first + count - 1; device i is `d{i}`. */
  readonly first: number;
  readonly count: number;
  /** Device i connects to mqttUrls[i % length]: the devices spread over the edges. */
  readonly mqttUrls: readonly string[];
  readonly apiUrl: string;
  readonly qos: 0 | 1;
  /** This thread's share of the scenario's connect rate, per second. */
  readonly connectRate: number;
  readonly updateRate: number;
  readonly cloudShare: number;
  readonly drainMs: number;
  /** How often the thread reports what happened since its last report. */
  readonly tickMs: number;
}

/** Record kinds in a tick's `records` (triples: completion time, latency ms, kind). */
export const KIND = { device: 0, cloud: 1, connect: 2 } as const;

export interface Counters {
  /** Devices connected and subscribed now. */
  connected: number;
  connectFailures: number;
  registered: number;
  sentDevice: number;
  sentCloud: number;
  /** Device writes Umbra rejected and cloud writes answered other than 200. */
  rejected: number;
  /** Connections lost and client errors after connecting. */
  disconnects: number;
}

export const emptyCounters = (): Counters => ({
  connected: 0,
  connectFailures: 0,
  registered: 0,
  sentDevice: 0,
  sentCloud: 0,
  rejected: 0,
  disconnects: 0,
});

export type FleetReport =
  | {
      readonly type: "tick";
      readonly counters: Counters;
      /** Triples (epoch ms of completion, latency ms, KIND), since the last tick. */
      readonly records: Float64Array;
      /** The first few problems seen since the last tick. */
      readonly problems: readonly string[];
    }
  | { readonly type: "done"; readonly outcome: FleetOutcome }
  | { readonly type: "error"; readonly message: string };

/** Main thread → load thread. */
export type FleetCommand = { readonly type: "stop" };

/** A load thread's final account, after the drain and the shadow check. */
export interface FleetOutcome {
  readonly counters: Counters;
  /** Writes sent and never answered (accepted, or the delta of a cloud write) in time. */
  readonly lost: number;
  /** Device answers that came when nothing was pending. */
  readonly unexpected: number;
  /** update/accepted answers whose version did not grow. */
  readonly outOfOrder: number;
  /** Shadows read back after the run, and how many had a version other than the writes answered. */
  readonly checked: number;
  readonly versionMismatches: number;
  readonly firstMismatch: string | null;
}

/**
 * The run's aggregate of what the load threads report: completions and latencies in
 * 1-second buckets for the charts, and every latency of the measured window for the
 * table's percentiles.
 */
import { KIND } from "./protocol.js";

export type WriteKind = "device" | "cloud";

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest rank: the smallest sample with at least p of them at or below it; NaN for none. */
export const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0);

export const percentilesOf = (values: readonly number[] | Float64Array): Percentiles => {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? 0),
  };
};

interface Bucket {
  device: number[];
  cloud: number[];
  connects: number;
  /** Devices connected at the bucket's last report. */
  connected: number;
}

export class RunStats {
  private readonly buckets: Bucket[] = [];
  private readonly window = { device: [] as number[], cloud: [] as number[] };
  private readonly connectLatencies: number[] = [];
  private windowStart = Number.POSITIVE_INFINITY;
  private windowEnd = Number.POSITIVE_INFINITY;

  /** `origin`: epoch ms of the load's start, second 0 of the charts. */
  constructor(readonly origin: number) {}

  private bucket(at: number): Bucket {
    const index = Math.max(0, Math.floor((at - this.origin) / 1000));
    while (this.buckets.length <= index)
      this.buckets.push({ device: [], cloud: [], connects: 0, connected: -1 });
    return this.buckets[index] as Bucket;
  }

  openWindow(at: number, seconds: number): void {
    this.windowStart = at;
    this.windowEnd = at + seconds * 1000;
  }

  /** Seconds since the origin at which the window opened and closes (NaN before it opened). */
  windowSeconds(): { start: number; end: number } {
    return Number.isFinite(this.windowStart)
      ? {
          start: (this.windowStart - this.origin) / 1000,
          end: (this.windowEnd - this.origin) / 1000,
        }
      : { start: Number.NaN, end: Number.NaN };
  }

  /** Adds a tick's (time, latency, kind) triples. */
  add(records: Float64Array): void {
    for (let i = 0; i + 2 < records.length; i += 3) {
      const at = records[i] as number;
      const latency = records[i + 1] as number;
      const kind = records[i + 2] as number;
      const bucket = this.bucket(at);
      if (kind === KIND.connect) {
        bucket.connects++;
        this.connectLatencies.push(latency);
        continue;
      }
      const name: WriteKind = kind === KIND.cloud ? "cloud" : "device";
      bucket[name].push(latency);
      if (at >= this.windowStart && at <= this.windowEnd) this.window[name].push(latency);
    }
  }

  /** Records how many devices are connected now, for the chart of connections. */
  connectedNow(at: number, connected: number): void {
    this.bucket(at).connected = connected;
  }

  /** Writes answered in the last whole second before `at`: the progress line's throughput. */
  lastSecond(at: number): number {
    const b = this.buckets[Math.floor((at - this.origin) / 1000) - 1];
    return b === undefined ? 0 : b.device.length + b.cloud.length;
  }

  /** Answered writes of the measured window. */
  windowCount(kind: WriteKind): number {
    return this.window[kind].length;
  }

  windowLatency(kind: WriteKind | "all"): Percentiles {
    return percentilesOf(
      kind === "all" ? [...this.window.device, ...this.window.cloud] : this.window[kind],
    );
  }

  connectLatency(): Percentiles {
    return percentilesOf(this.connectLatencies);
  }

  /** Per-second series for the charts, from second 0 to the last report. */
  timeline(): Timeline {
    let connected = 0;
    const per = (pick: (b: Bucket) => number[]) =>
      this.buckets.map((b) => {
        const p = percentilesOf(pick(b));
        return { p50: p.p50, p95: p.p95, p99: p.p99 };
      });
    return {
      device: this.buckets.map((b) => b.device.length),
      cloud: this.buckets.map((b) => b.cloud.length),
      connected: this.buckets.map((b) => {
        // A second without a report keeps the count of the one before.
        if (b.connected >= 0) connected = b.connected;
        return connected;
      }),
      deviceLatency: per((b) => b.device),
      cloudLatency: per((b) => b.cloud),
    };
  }
}

/** One value per second since the load started. */
export interface Timeline {
  readonly device: readonly number[];
  readonly cloud: readonly number[];
  readonly connected: readonly number[];
  readonly deviceLatency: readonly Omit<Percentiles, "max">[];
  readonly cloudLatency: readonly Omit<Percentiles, "max">[];
}

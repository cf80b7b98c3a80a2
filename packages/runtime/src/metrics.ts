import { collectDefaultMetrics, type Metric, Registry } from "prom-client";

/**
 * Prometheus metrics: one prom-client registry per process (with Node's default process
 * metrics), on which every service of the process registers its families.
 *
 * Hot paths count in plain numbers — a `CounterCell`'s `value++`, a `HistogramSeries`'
 * `observe()` — and prom-client reads them only when scraped. (prom-client's own
 * `inc()` / `observe()` hash their labels on every call: ~150–250 ns each, measured,
 * against a few ns here.) A family is made once per process and shared: a service
 * started twice in one process (tests) adds to the same series.
 */

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export type Labels = Readonly<Record<string, string>>;

interface Sample {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

interface Snapshot {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly aggregator: "sum";
  readonly values: readonly Sample[];
}

/**
 * What prom-client's registry reads from a metric (`name`, `help`, `type`, `get()`):
 * families implement it over their plain numbers.
 */
export abstract class Family {
  readonly aggregator = "sum";
  abstract readonly type: Snapshot["type"];
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  protected abstract samples(): Sample[];

  snapshot(): Snapshot {
    const { name, help, type, aggregator } = this;
    return { name, help, type, aggregator, values: this.samples() };
  }

  get(): Promise<Snapshot> {
    return Promise.resolve(this.snapshot());
  }

  /** prom-client calls it on `registry.resetMetrics()`; series here live as long as their owners. */
  reset(): void {}
}

/** A series' labels as one map key, in the family's label order. */
const seriesKey = (labelNames: readonly string[], labels: Labels): string =>
  labelNames.map((name) => labels[name] ?? "").join("\u0000");

export interface CounterCell {
  value: number;
}

/** A counter family: `cell(labels)` once, then `cell.value++` (or `+= n`) where it happens. */
export class CounterFamily extends Family {
  readonly type = "counter";
  readonly #series = new Map<string, { labels: Labels; cell: CounterCell }>();

  constructor(
    name: string,
    help: string,
    readonly labelNames: readonly string[],
  ) {
    super(name, help);
  }

  cell(labels: Labels = {}): CounterCell {
    const key = seriesKey(this.labelNames, labels);
    let entry = this.#series.get(key);
    if (entry === undefined) {
      entry = { labels: { ...labels }, cell: { value: 0 } };
      this.#series.set(key, entry);
    }
    return entry.cell;
  }

  protected samples(): Sample[] {
    return [...this.#series.values()].map(({ labels, cell }) => ({ value: cell.value, labels }));
  }
}

/** A gauge family: the sum, at scrape time, of what every live source reports. */
export class GaugeFamily extends Family {
  readonly type = "gauge";
  readonly #sources = new Set<() => number>();

  /** Adds a source; the returned function removes it (its owner stopped). */
  source(read: () => number): () => void {
    this.#sources.add(read);
    return () => this.#sources.delete(read);
  }

  protected samples(): Sample[] {
    let value = 0;
    for (const read of this.#sources) value += read();
    return [{ value, labels: {} }];
  }
}

/** One labelled series of a histogram: bucket counts (the last is +Inf), sum, count. */
export class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly bounds: readonly number[],
    readonly labels: Labels,
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** A histogram family: `series(labels)` once, then `series.observe(seconds)`. */
export class HistogramFamily extends Family {
  readonly type = "histogram";
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    name: string,
    help: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    super(name, help);
  }

  series(labels: Labels = {}): HistogramSeries {
    const key = seriesKey(this.labelNames, labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new HistogramSeries(this.bounds, { ...labels });
      this.#series.set(key, series);
    }
    return series;
  }

  protected samples(): Sample[] {
    const out: Sample[] = [];
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += counts[i] as number;
        out.push({
          value: cumulative,
          labels: { ...labels, le: String(this.bounds[i]) },
          metricName: `${this.name}_bucket`,
        });
      }
      out.push(
        { value: count, labels: { ...labels, le: "+Inf" }, metricName: `${this.name}_bucket` },
        { value: sum, labels, metricName: `${this.name}_sum` },
        { value: count, labels, metricName: `${this.name}_count` },
      );
    }
    return out;
  }
}

/** Latency buckets in seconds, from 250 µs (a command on loopback) to 10 s (a deadline). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

let registry: Registry | undefined;
const families = new Map<string, Family>();

/** The process's registry, made (with Node's default metrics) on first use. */
export const metricsRegistry = (): Registry => {
  if (registry === undefined) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
};

/** The family named `name`, made and registered the first time. */
const family = <F extends Family>(name: string, make: () => F): F => {
  const known = families.get(name);
  if (known !== undefined) return known as F;
  const made = make();
  // The registry renders any object with name, help, type and get(), as it does its own.
  metricsRegistry().registerMetric(made as unknown as Metric);
  families.set(name, made);
  return made;
};

export const counterFamily = (
  name: string,
  help: string,
  labelNames: readonly string[] = [],
): CounterFamily => family(name, () => new CounterFamily(name, help, labelNames));

export const gaugeFamily = (name: string, help: string): GaugeFamily =>
  family(name, () => new GaugeFamily(name, help));

export const histogramFamily = (
  name: string,
  help: string,
  labelNames: readonly string[] = [],
  bounds: readonly number[] = LATENCY_BUCKETS,
): HistogramFamily => family(name, () => new HistogramFamily(name, help, labelNames, bounds));

/** Every metric of the process in the text exposition format. */
export const metricsText = (): Promise<string> => metricsRegistry().metrics();

/** Errors and reconnects of the NATS and Redis clients, in every service. */
export const connectionMetrics = () => ({
  natsErrors: counterFamily(
    "umbra_nats_errors_total",
    "NATS client errors: connection lost, server errors, stale connection, slow consumer.",
  ).cell(),
  natsReconnects: counterFamily(
    "umbra_nats_reconnects_total",
    "NATS connections re-established after a loss.",
  ).cell(),
  redisErrors: counterFamily(
    "umbra_redis_errors_total",
    "Redis errors: connection lost, and each failed reconnection attempt.",
  ).cell(),
  redisReconnects: counterFamily(
    "umbra_redis_reconnects_total",
    "Redis connections re-established after a loss.",
  ).cell(),
});

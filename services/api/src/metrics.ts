import {
  type CounterCell,
  type CounterFamily,
  counterFamily,
  type GaugeFamily,
  gaugeFamily,
  type HistogramFamily,
  histogramFamily,
} from "@umbra/runtime";

export type AuthRefusal = "missing-key" | "invalid-key" | "throttled";

/** Request latency buckets in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The API's Prometheus metrics (`umbra_api_*`), on the process's registry: the ops
 * listener of `umbra all` shows them with every other service's.
 */
export class Metrics {
  readonly #requests: CounterFamily;
  readonly #durations: HistogramFamily;
  readonly #streamsGauge: GaugeFamily;
  #streams = 0;
  /** Requests refused before authentication succeeded, by why. */
  readonly authRefused: Readonly<Record<AuthRefusal, CounterCell>>;

  constructor() {
    this.#requests = counterFamily(
      "umbra_api_requests_total",
      "HTTP requests answered, by operation and status.",
      ["operation", "status"],
    );
    this.#durations = histogramFamily(
      "umbra_api_request_duration_seconds",
      "Time to answer a request, by operation.",
      ["operation"],
      BUCKETS,
    );
    this.#streamsGauge = gaugeFamily("umbra_api_event_streams", "Open event streams (SSE).");
    this.#streamsGauge.source(() => this.#streams);
    const refusals = counterFamily(
      "umbra_api_auth_refusals_total",
      "Requests refused for their API key: missing-key, invalid-key (401), or throttled (429: too many invalid keys from the address).",
      ["reason"],
    );
    this.authRefused = {
      "missing-key": refusals.cell({ reason: "missing-key" }),
      "invalid-key": refusals.cell({ reason: "invalid-key" }),
      throttled: refusals.cell({ reason: "throttled" }),
    };
  }

  /** The addresses the failed-authentication throttle remembers, read at scrape time. */
  throttledAddresses(read: () => number): () => void {
    return gaugeFamily(
      "umbra_api_auth_throttle_addresses",
      "Source addresses the failed-authentication throttle remembers (bounded by API_AUTH_FAILURE_ADDRESSES).",
    ).source(read);
  }

  request(operation: string, status: number, seconds: number): void {
    this.#requests.cell({ operation, status: String(status) }).value++;
    this.#durations.series({ operation }).observe(seconds);
  }

  streamOpened(): void {
    this.#streams++;
  }

  streamClosed(): void {
    this.#streams--;
  }
}

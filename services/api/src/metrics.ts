/**
 * The API's Prometheus metrics, kept by hand: a few counters and one histogram do not
 * need a client library.
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const label = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

export class Metrics {
  /** `operationId status` → count */
  readonly #requests = new Map<string, number>();
  /** operationId → bucket counts (+Inf last), sum */
  readonly #durations = new Map<string, { counts: number[]; sum: number }>();
  #streams = 0;

  request(operation: string, status: number, seconds: number): void {
    const key = `${operation} ${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let d = this.#durations.get(operation);
    if (d === undefined) {
      d = { counts: new Array<number>(BUCKETS.length + 1).fill(0), sum: 0 };
      this.#durations.set(operation, d);
    }
    let i = 0;
    while (i < BUCKETS.length && seconds > (BUCKETS[i] as number)) i++;
    d.counts[i] = (d.counts[i] as number) + 1;
    d.sum += seconds;
  }

  streamOpened(): void {
    this.#streams++;
  }

  streamClosed(): void {
    this.#streams--;
  }

  /** The text exposition format. */
  render(): string {
    const out: string[] = [
      "# HELP umbra_api_requests_total HTTP requests answered, by operation and status.",
      "# TYPE umbra_api_requests_total counter",
    ];
    for (const [key, count] of this.#requests) {
      const [operation, status] = key.split(" ") as [string, string];
      out.push(
        `umbra_api_requests_total{operation="${label(operation)}",status="${status}"} ${count}`,
      );
    }
    out.push(
      "# HELP umbra_api_request_duration_seconds Time to answer a request, by operation.",
      "# TYPE umbra_api_request_duration_seconds histogram",
    );
    for (const [operation, d] of this.#durations) {
      const op = label(operation);
      let cumulative = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        cumulative += d.counts[i] as number;
        out.push(
          `umbra_api_request_duration_seconds_bucket{operation="${op}",le="${BUCKETS[i]}"} ${cumulative}`,
        );
      }
      cumulative += d.counts[BUCKETS.length] as number;
      out.push(
        `umbra_api_request_duration_seconds_bucket{operation="${op}",le="+Inf"} ${cumulative}`,
        `umbra_api_request_duration_seconds_sum{operation="${op}"} ${d.sum}`,
        `umbra_api_request_duration_seconds_count{operation="${op}"} ${cumulative}`,
      );
    }
    out.push(
      "# HELP umbra_api_event_streams Open event streams (SSE).",
      "# TYPE umbra_api_event_streams gauge",
      `umbra_api_event_streams ${this.#streams}`,
    );
    return `${out.join("\n")}\n`;
  }
}

/** The load threads of a run: starts them, gathers their reports, stops them. */
import { Worker } from "node:worker_threads";
import {
  type Counters,
  emptyCounters,
  type FleetOutcome,
  type FleetReport,
  type FleetSpec,
} from "./protocol.js";

export class LoadThreads {
  private readonly workers: Worker[];
  private readonly latest: Counters[];
  private readonly outcomes: (FleetOutcome | undefined)[];
  private failure: Error | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    specs: readonly FleetSpec[],
    private readonly onRecords: (records: Float64Array, problems: readonly string[]) => void,
  ) {
    this.latest = specs.map(emptyCounters);
    this.outcomes = specs.map(() => undefined);
    this.workers = specs.map((spec, t) => {
      const worker = new Worker(new URL("./fleet.worker.js", import.meta.url), {
        workerData: spec,
      });
      worker.on("message", (report: FleetReport) => this.received(t, report));
      worker.on("error", (error) => this.fail(new Error(`load thread ${t}: ${error.message}`)));
      worker.on("exit", (code) => {
        if (this.outcomes[t] === undefined)
          this.fail(new Error(`load thread ${t} exited (code ${code}) before its report`));
      });
      return worker;
    });
  }

  private received(t: number, report: FleetReport): void {
    if (report.type === "tick") {
      this.latest[t] = report.counters;
      this.onRecords(report.records, report.problems);
    } else if (report.type === "done") {
      this.latest[t] = report.outcome.counters;
      this.outcomes[t] = report.outcome;
    } else this.fail(new Error(`load thread ${t}: ${report.message}`));
    this.wake();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Every thread's latest counters, added up. */
  totals(): Counters {
    const sum = emptyCounters();
    for (const c of this.latest)
      for (const key of Object.keys(sum) as (keyof Counters)[]) sum[key] += c[key];
    return sum;
  }

  /**
   * Resolves once `condition` holds after a report; rejects when a thread fails or
   * `deadlineMs` passes (with `what` in the message).
   */
  until(condition: () => boolean, deadlineMs: number, what: string): Promise<void> {
    return this.wait(
      condition,
      deadlineMs,
      () => new Error(`${what}: not within ${Math.round(deadlineMs / 1000)} s`),
    );
  }

  /** Lets the threads run for `ms` (the measured window); rejects early if one fails. */
  runFor(ms: number): Promise<void> {
    return this.wait(
      () => false,
      ms,
      () => undefined,
    );
  }

  private wait(
    condition: () => boolean,
    ms: number,
    timedOut: () => Error | undefined,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure !== undefined) finish(this.failure);
        else if (condition()) finish();
      };
      const timer = setTimeout(() => finish(timedOut()), ms);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Tells every thread to stop writing, drain and check; resolves to their outcomes. */
  async finish(deadlineMs: number): Promise<FleetOutcome[]> {
    for (const worker of this.workers) worker.postMessage({ type: "stop" });
    await this.until(
      () => this.outcomes.every((o) => o !== undefined),
      deadlineMs,
      "the load threads did not finish draining and checking",
    );
    return this.outcomes as FleetOutcome[];
  }

  async terminate(): Promise<void> {
    this.waiters.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

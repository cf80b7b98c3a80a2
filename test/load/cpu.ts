/**
 * CPU used by each local process of the run, sampled once a second from /proc (Linux;
 * elsewhere, and for containers, there is nothing to read and the report shows none).
 */
import { readFileSync } from "node:fs";

/** utime + stime of a process, in seconds; undefined when it cannot be read. */
const cpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ = 100).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
};

export interface CpuSeries {
  readonly name: string;
  /** Percent of one core, per second since the sampler's origin. */
  readonly percent: number[];
}

export class CpuSampler {
  private readonly series: CpuSeries[];
  private readonly last: (number | undefined)[];
  private lastAt: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly processes: readonly { name: string; pid: number | undefined }[],
    private readonly origin: number,
  ) {
    this.series = processes.map(({ name }) => ({ name, percent: [] }));
    this.last = processes.map(({ pid }) => (pid === undefined ? undefined : cpuSeconds(pid)));
    this.lastAt = Date.now();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  /** Whether there is anything to show (local processes on Linux). */
  get available(): boolean {
    return this.last.some((v) => v !== undefined);
  }

  private sample(): void {
    const at = Date.now();
    const second = Math.floor((at - this.origin) / 1000);
    const elapsed = (at - this.lastAt) / 1000;
    this.processes.forEach(({ pid }, i) => {
      const before = this.last[i];
      const used = pid === undefined ? undefined : cpuSeconds(pid);
      this.last[i] = used;
      const series = this.series[i] as CpuSeries;
      while (series.percent.length < second) series.percent.push(Number.NaN);
      if (second >= 0 && before !== undefined && used !== undefined && elapsed > 0)
        series.percent[second] = (100 * (used - before)) / elapsed;
    });
    this.lastAt = at;
  }

  stop(): CpuSeries[] {
    clearInterval(this.timer);
    return this.available ? this.series : [];
  }
}

/** Mean of the finite values of `percent` in seconds [from, to). */
export const meanPercent = (percent: readonly number[], from: number, to: number): number => {
  const values = percent
    .slice(Math.max(0, Math.floor(from)), Math.ceil(to))
    .filter(Number.isFinite);
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
};

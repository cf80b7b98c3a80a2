import type { ServiceProcess } from "./service.js";

/**
 * The value of one sample of a Prometheus exposition, `series` being its name and labels
 * exactly as exposed (`umbra_x_total{reason="a"}`); undefined when it is absent.
 */
export const sampleOf = (exposition: string, series: string): number | undefined => {
  for (const line of exposition.split("\n"))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
};

/** One sample scraped from `url` (a `/metrics` address); 0 when absent (not counted yet). */
export const scrapeSample = async (url: string, series: string): Promise<number> =>
  sampleOf(await (await fetch(url)).text(), series) ?? 0;

/** The `/metrics` address of a process started by `startService`, from its ready lines. */
export const metricsUrlOf = (process: ServiceProcess): string => {
  for (const line of Object.values(process.ready))
    if (typeof line.opsPort === "number") return `http://127.0.0.1:${line.opsPort}/metrics`;
  throw new Error("the process named no ops port in its ready lines (OPS_PORT unset?)");
};

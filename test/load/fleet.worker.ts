/** A load thread: runs one Fleet and reports to the run (see protocol.ts). */
import { parentPort, workerData } from "node:worker_threads";
import { Fleet } from "./fleet.js";
import type { FleetReport, FleetSpec } from "./protocol.js";

const port = parentPort;
if (port === null) throw new Error("fleet.worker.js runs as a worker thread");
const spec = workerData as FleetSpec;
const fleet = new Fleet(spec);

const send = (report: FleetReport) =>
  port.postMessage(report, report.type === "tick" ? [report.records.buffer as ArrayBuffer] : []);
const tick = () =>
  send({
    type: "tick",
    counters: { ...fleet.counters },
    records: fleet.records.take(),
    problems: fleet.problems.splice(0),
  });

const stopRequested = new Promise<void>((resolve) =>
  port.once("message", () => {
    fleet.stopSending();
    resolve();
  }),
);
const ticker = setInterval(tick, spec.tickMs);
try {
  await fleet.register();
  await fleet.connectAll();
  await stopRequested;
  await fleet.drain();
  tick();
  const check = await fleet.verify();
  fleet.close();
  send({ type: "done", outcome: fleet.outcome(check) });
} catch (error) {
  fleet.close();
  send({ type: "error", message: error instanceof Error ? error.message : String(error) });
} finally {
  clearInterval(ticker);
}

/** Worker thread: runs one share of the benchmark's devices (see load.ts). */
import { parentPort, workerData } from "node:worker_threads";
import { closeDevices, connectDevices, type LoadResult, type LoadSpec, runLoad } from "./load.js";

/** Main thread → worker: start sending. Worker → main thread: see WorkerReport. */
export type WorkerReport =
  | { readonly type: "connected" }
  | { readonly type: "result"; readonly result: LoadResult }
  | { readonly type: "error"; readonly message: string };

const port = parentPort;
if (port === null) throw new Error("load.worker.js runs as a worker thread");
const spec = workerData as LoadSpec;

const report = (message: WorkerReport, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

try {
  const devices = await connectDevices(spec);
  report({ type: "connected" });
  await new Promise<void>((resolve) => port.once("message", () => resolve()));
  const result = await runLoad(spec, devices);
  closeDevices(devices);
  report({ type: "result", result }, [
    result.samples.buffer as ArrayBuffer,
    result.timeline.buffer as ArrayBuffer,
  ]);
} catch (error) {
  report({ type: "error", message: error instanceof Error ? error.message : String(error) });
}

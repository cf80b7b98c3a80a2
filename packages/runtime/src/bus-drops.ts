import type { DropReason, OnDropped } from "@umbra/bus";
import { messageOf } from "./errors.js";
import { limitedLog } from "./log-limit.js";
import type { Logger } from "./logger.js";
import { counterFamily } from "./metrics.js";

/**
 * What a service does with a message the bus did not send (over the server's
 * `max_payload` even alone, or refused by a closing connection): counted in
 * `umbra_bus_dropped_total{reason}` and logged, rate-limited (a flood of them is a few
 * lines and a count).
 */
export const busDropReporter = (logger: Logger): OnDropped => {
  const family = counterFamily(
    "umbra_bus_dropped_total",
    "Messages not published on NATS, by reason: oversize (over the server's max_payload even alone), failed (connection closed or draining), disconnected (QoS 0 while reconnecting).",
    ["reason"],
  );
  const cells: Record<DropReason, { value: number }> = {
    oversize: family.cell({ reason: "oversize" }),
    failed: family.cell({ reason: "failed" }),
    disconnected: family.cell({ reason: "disconnected" }),
  };
  const log = limitedLog(logger);
  return (reason, subject, bytes, error) => {
    cells[reason].value++;
    log.warn({ reason, subject, bytes, err: messageOf(error) }, "bus message dropped");
  };
};

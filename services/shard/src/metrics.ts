import type { CommandOp } from "@umbra/bus";
import {
  type CounterCell,
  counterFamily,
  gaugeFamily,
  type HistogramSeries,
  histogramFamily,
} from "@umbra/runtime";

/** One op's series: bound once, so counting a command is a property read and an add. */
export interface OpMetrics {
  readonly accepted: CounterCell;
  readonly rejected: CounterCell;
  /** Seconds from the command's arrival to its result being published. */
  readonly duration: HistogramSeries;
}

/** The shard's metrics (`umbra_shard_*`), shared by every shard of the process. */
export interface ShardMetrics {
  readonly ops: Readonly<Record<CommandOp, OpMetrics>>;
  /** A batch's compare-and-set found the shadow changed by another writer. */
  readonly casConflicts: CounterCell;
  /** …and the batch was run again on the fresh state. */
  readonly casRetries: CounterCell;
  readonly passivations: CounterCell;
  /** Partitions given up to another shard. */
  readonly handoffs: CounterCell;
  /** Commands refused by a full mailbox: QoS 0 and QoS 1 of devices, cloud callers'. */
  readonly shed: {
    readonly qos0: CounterCell;
    readonly qos1: CounterCell;
    readonly cloud: CounterCell;
  };
  /** Adds a shard's live actors and owned partitions to the gauges; returns the remover. */
  readonly gauges: (actors: () => number, partitions: () => number) => () => void;
}

/** Every op, checked by the compiler: a new op without metrics would crash the actor. */
const EVERY_OP: Record<CommandOp, true> = {
  update: true,
  get: true,
  delete: true,
  twin: true,
  function: true,
  sync: true,
  request: true,
};
const OPS = Object.keys(EVERY_OP) as CommandOp[];

export const shardMetrics = (): ShardMetrics => {
  const commands = counterFamily(
    "umbra_shard_commands_total",
    "Commands processed, by op and result (rejected: refused by the shadow rules or storage).",
    ["op", "result"],
  );
  const durations = histogramFamily(
    "umbra_shard_command_duration_seconds",
    "Time from a command's arrival at the shard to its result being published, by op.",
    ["op"],
  );
  const ops = Object.fromEntries(
    OPS.map((op) => [
      op,
      {
        accepted: commands.cell({ op, result: "accepted" }),
        rejected: commands.cell({ op, result: "rejected" }),
        duration: durations.series({ op }),
      },
    ]),
  ) as Record<CommandOp, OpMetrics>;
  const actors = gaugeFamily("umbra_shard_actors", "Device actors in memory.");
  const owned = gaugeFamily("umbra_shard_partitions_owned", "Partitions this shard serves.");
  return {
    ops,
    casConflicts: counterFamily(
      "umbra_shard_cas_conflicts_total",
      "Compare-and-set writes that found the shadow changed by another writer.",
    ).cell(),
    casRetries: counterFamily(
      "umbra_shard_cas_retries_total",
      "Batches run again after a compare-and-set conflict.",
    ).cell(),
    passivations: counterFamily(
      "umbra_shard_passivations_total",
      "Actors dropped from memory: idle, or over the memory bound (MAX_ACTORS).",
    ).cell(),
    handoffs: counterFamily(
      "umbra_shard_handoffs_total",
      "Partitions handed off to another shard.",
    ).cell(),
    shed: (() => {
      const family = counterFamily(
        "umbra_shard_commands_shed_total",
        "Commands refused because the device's mailbox (ACTOR_MAILBOX_MAX) or the shard's queue (SHARD_QUEUE_MAX_BYTES) was full, by kind: qos0 (dropped), qos1 (not acked: re-sent), cloud (answered unavailable).",
        ["kind"],
      );
      return {
        qos0: family.cell({ kind: "qos0" }),
        qos1: family.cell({ kind: "qos1" }),
        cloud: family.cell({ kind: "cloud" }),
      };
    })(),
    gauges: (liveActors, partitions) => {
      const removeActors = actors.source(liveActors);
      const removeOwned = owned.source(partitions);
      return () => {
        removeActors();
        removeOwned();
      };
    },
  };
};

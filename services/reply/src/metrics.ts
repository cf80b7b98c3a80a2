import { type CounterCell, counterFamily } from "@umbra/runtime";

/** The reply service's metrics (`umbra_reply_*`), shared by every instance of the process. */
export interface ReplyMetrics {
  /** Result events consumed from the shards. */
  readonly events: CounterCell;
  /** Messages rendered for devices, by dialect. */
  readonly messagesOut: (dialect: string) => CounterCell;
}

export const replyMetrics = (): ReplyMetrics => {
  const out = counterFamily(
    "umbra_reply_messages_out_total",
    "Messages rendered for devices (accepted, rejected, delta, get answers), by dialect.",
    ["dialect"],
  );
  return {
    events: counterFamily(
      "umbra_reply_events_total",
      "Result events consumed from the shards.",
    ).cell(),
    messagesOut: (dialect) => out.cell({ dialect }),
  };
};

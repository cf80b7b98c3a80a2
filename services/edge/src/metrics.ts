import { type CounterCell, counterFamily, gaugeFamily } from "@umbra/runtime";

/** PUBLISH packets of one dialect, counted by the sessions speaking it. */
export interface DialectTraffic {
  /** From devices. */
  readonly in: CounterCell;
  /** To devices. */
  readonly out: CounterCell;
}

/** The edge's metrics (`umbra_edge_*`), shared by every edge server of the process. */
export interface EdgeMetrics {
  readonly traffic: (dialect: string) => DialectTraffic;
  readonly connectsAccepted: CounterCell;
  readonly connectsRefused: CounterCell;
  /** Deliveries not sent: the device reads too slowly, or its packet size limit. */
  readonly droppedSlowConsumer: CounterCell;
  readonly droppedTooLarge: CounterCell;
  /** CONNECTs refused unchecked: their address failed authentication too often. */
  readonly authThrottledAddress: CounterCell;
  /** Failed authentications answered late: their client id failed too often. */
  readonly authDelayedClientId: CounterCell;
  /** QoS 1 publishes the cluster did not process in time (no PUBACK). */
  readonly commandTimeouts: CounterCell;
  /** TLS handshakes completed on the MQTTS listener. */
  readonly tlsHandshakes: CounterCell;
  /** TLS handshakes that failed: timed out, no common ALPN id, anything else. */
  readonly tlsHandshakeFailures: Readonly<Record<"timeout" | "alpn" | "other", CounterCell>>;
  /** Adds a server's open sessions to the connections gauge; returns the remover. */
  readonly connections: (count: () => number) => () => void;
}

export const edgeMetrics = (): EdgeMetrics => {
  const messagesIn = counterFamily(
    "umbra_edge_messages_in_total",
    "PUBLISH packets received from devices, by dialect.",
    ["dialect"],
  );
  const messagesOut = counterFamily(
    "umbra_edge_messages_out_total",
    "PUBLISH packets sent to devices, by dialect.",
    ["dialect"],
  );
  const connects = counterFamily(
    "umbra_edge_connects_total",
    "MQTT CONNECTs answered, by result.",
    ["result"],
  );
  const dropped = counterFamily(
    "umbra_edge_dropped_total",
    "Messages to devices dropped, by reason.",
    ["reason"],
  );
  const throttled = counterFamily(
    "umbra_edge_auth_throttled_total",
    "CONNECTs slowed down after failed authentications: refused unchecked for their source address, or answered late for their client id.",
    ["scope"],
  );
  const connections = gaugeFamily("umbra_edge_connections", "Open MQTT sessions of devices.");
  const tlsFailures = counterFamily(
    "umbra_edge_tls_handshake_failures_total",
    "TLS handshakes on the MQTTS listener that failed, by reason: timeout, alpn (no common protocol id), other.",
    ["reason"],
  );
  return {
    traffic: (dialect) => ({
      in: messagesIn.cell({ dialect }),
      out: messagesOut.cell({ dialect }),
    }),
    connectsAccepted: connects.cell({ result: "accepted" }),
    connectsRefused: connects.cell({ result: "refused" }),
    droppedSlowConsumer: dropped.cell({ reason: "slow_consumer" }),
    droppedTooLarge: dropped.cell({ reason: "client_packet_size" }),
    authThrottledAddress: throttled.cell({ scope: "address" }),
    authDelayedClientId: throttled.cell({ scope: "client_id" }),
    commandTimeouts: counterFamily(
      "umbra_edge_command_timeouts_total",
      "QoS 1 publishes the cluster did not process in time: no PUBACK, the session closed.",
    ).cell(),
    tlsHandshakes: counterFamily(
      "umbra_edge_tls_handshakes_total",
      "TLS handshakes completed on the MQTTS listener.",
    ).cell(),
    tlsHandshakeFailures: {
      timeout: tlsFailures.cell({ reason: "timeout" }),
      alpn: tlsFailures.cell({ reason: "alpn" }),
      other: tlsFailures.cell({ reason: "other" }),
    },
    connections: (count) => connections.source(count),
  };
};

/**
 * AWS shadow requests refused at the edge with 429 (DIALECTS.md §1.4): counted by the
 * bus side (`bus/awsRequests.ts`), which has no `EdgeMetrics` of its own.
 */
export const awsThrottledTotal = (): CounterCell =>
  counterFamily(
    "umbra_edge_aws_throttled_total",
    "AWS shadow requests answered 429 at the edge: the connection had too many requests without an answer (MQTT_AWS_MAX_INFLIGHT).",
  ).cell();

/** Device telemetry on the application event stream (`bus/telemetry.ts`). */
export interface TelemetryCounters {
  readonly published: CounterCell;
  /** NATS disconnected, or the message could not be published (over max_payload). */
  readonly dropped: CounterCell;
}

export const telemetryCounters = (): TelemetryCounters => {
  const family = counterFamily(
    "umbra_edge_telemetry_total",
    "Device telemetry messages (Azure devices/{id}/messages/events) by result: published on the application event stream, or dropped (NATS disconnected, over max_payload).",
    ["result"],
  );
  return {
    published: family.cell({ result: "published" }),
    dropped: family.cell({ result: "dropped" }),
  };
};

/** The OneNET thing uploads the edge handles itself (`bus/thingUploads.ts`). */
export type EdgeThingUpload = "event/post" | "pack/post" | "history/post";

/**
 * What became of one: `accepted` (answered 200), `refused` (the reader's code: bad
 * input, a bound, a stranger), `failed` (not published, or a pack entry not
 * acknowledged: a 128 answer, no PUBACK), `throttled` (a pack past the session's window).
 */
export type ThingUploadResult = "accepted" | "refused" | "failed" | "throttled";

export type ThingUploadCounters = (
  upload: EdgeThingUpload,
  result: ThingUploadResult,
) => CounterCell;

export const thingUploadCounters = (): ThingUploadCounters => {
  const family = counterFamily(
    "umbra_edge_thing_uploads_total",
    "OneNET thing uploads handled at the edge (event/post, pack/post, history/post) by result: accepted, refused (bad input, a bound, not a sub-device), failed (not published or not acknowledged: 128, no PUBACK), throttled (a pack past MQTT_THING_MAX_PACKS).",
    ["upload", "result"],
  );
  // The family keeps each series: a cell asked again is the same one.
  return (upload, result) => family.cell({ upload, result });
};

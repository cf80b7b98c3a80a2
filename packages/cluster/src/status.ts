import { assignOwners } from "./assignment.js";
import type { MemberStatus, Membership } from "./membership.js";

/** What `umbra cluster status` and a shard's `/cluster` endpoint report. */
export interface ClusterStatus {
  /** ms since the epoch, when this was read */
  readonly at: number;
  readonly partitions: number;
  readonly members: readonly (MemberStatus & { readonly heartbeatAgeMs: number })[];
  /** Partitions the live, non-leaving members divide among themselves. */
  readonly assigned: number;
  /** Members still finishing mailboxes of partitions they gave up, in total. */
  readonly handoffsInProgress: number;
  readonly liveActors: number;
}

export const readClusterStatus = async (
  membership: Membership,
  partitions: number,
  now: number = Date.now(),
): Promise<ClusterStatus> => {
  const members = await membership.members();
  const active = members.filter((m) => !m.leaving).map((m) => m.id);
  const owners = assignOwners(active, partitions);
  return {
    at: now,
    partitions,
    members: members.map((m) => ({ ...m, heartbeatAgeMs: Math.max(0, now - m.heartbeatAt) })),
    assigned: owners.filter((o) => o !== undefined).length,
    handoffsInProgress: members.reduce((sum, m) => sum + m.handoffs, 0),
    liveActors: members.reduce((sum, m) => sum + m.liveActors, 0),
  };
};

/** The status as a short table for a terminal. */
export const formatClusterStatus = (status: ClusterStatus): string => {
  const rows = [
    ["member", "host", "pid", "partitions", "actors", "hand-offs", "state", "heartbeat"],
    ...status.members.map((m) => [
      m.id,
      m.host,
      String(m.pid),
      String(m.partitions),
      String(m.liveActors),
      String(m.handoffs),
      m.leaving ? "leaving" : "serving",
      `${(m.heartbeatAgeMs / 1000).toFixed(1)} s ago`,
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  const summary =
    status.members.length === 0
      ? `no shard is live: none of the ${status.partitions} partitions is served`
      : `${status.members.length} member(s); ${status.assigned}/${status.partitions} partitions assigned; ${status.liveActors} live actors; ${status.handoffsInProgress} hand-off(s) in progress`;
  return [...lines, "", summary].join("\n");
};

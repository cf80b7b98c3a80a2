import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { UMBRA_MAIN } from "./service.js";

/** What tests read of `umbra cluster status --json`. */
export interface ClusterView {
  readonly members: readonly {
    readonly id: string;
    readonly partitions: number;
    readonly leaving: boolean;
    readonly handoffs: number;
  }[];
  readonly assigned: number;
}

/** The real CLI: `umbra cluster status --json` against `redisUrl`. */
export const readCluster = async (redisUrl: string): Promise<ClusterView> => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [UMBRA_MAIN, "cluster", "status", "--json"],
    { env: { ...process.env, REDIS_URL: redisUrl }, timeout: 10_000 },
  );
  return JSON.parse(stdout) as ClusterView;
};

/**
 * Settled: the members not leaving are exactly `serving` (ids, or how many), they
 * divide all `partitions` among themselves, and no hand-off is in progress.
 */
export const isSettled = (
  view: ClusterView,
  serving: readonly string[] | number,
  partitions = 1024,
): boolean => {
  const live = view.members.filter((m) => !m.leaving);
  const members =
    typeof serving === "number"
      ? live.length === serving
      : live
          .map((m) => m.id)
          .sort()
          .join() === [...serving].sort().join();
  return (
    members &&
    live.reduce((sum, m) => sum + m.partitions, 0) === partitions &&
    view.members.every((m) => m.handoffs === 0)
  );
};

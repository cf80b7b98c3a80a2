import { parseArgs } from "node:util";
import { formatClusterStatus, Membership, readClusterStatus } from "@umbra/cluster";
import { messageOf } from "@umbra/runtime";
import { withCliRedis } from "./cli-redis.js";

const usage = `Usage: umbra cluster status [--json]

  Shows the shard members (from their leases in Redis): partitions each serves, live
  actors, hand-offs in progress. Redis is REDIS_URL (default redis://127.0.0.1:6379);
  UMBRA_PARTITIONS (default 1024) must match the cluster's.`;

const fail = (message: string): number => {
  console.error(`umbra cluster: ${message}`);
  return 1;
};

export const clusterCommand = async (argv: readonly string[]): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`umbra cluster: ${messageOf(e)}\n\n${usage}`);
    return 2;
  }
  const [action, ...extra] = parsed.positionals;
  if (parsed.values.help === true || action === "help") {
    console.log(usage);
    return 0;
  }
  if (action !== "status" || extra.length > 0) {
    console.error(usage);
    return 2;
  }
  const partitions = Number(process.env.UMBRA_PARTITIONS ?? "1024");
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 65_536)
    return fail(`bad configuration: UMBRA_PARTITIONS: must be between 1 and 65536`);
  return withCliRedis(fail, async (redis) => {
    try {
      // The lease length does not matter for reading.
      const status = await readClusterStatus(new Membership(redis, 1_000), partitions);
      console.log(
        parsed.values.json === true ? JSON.stringify(status) : formatClusterStatus(status),
      );
      return 0;
    } catch (e) {
      return fail(messageOf(e));
    }
  });
};

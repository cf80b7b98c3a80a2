export * from "./actor.js";
export * from "./commands.js";
export * from "./dedup.js";
export * from "./metrics.js";
export * from "./service.js";
export * from "./shard.js";

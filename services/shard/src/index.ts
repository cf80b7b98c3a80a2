export * from "./actor.js";
export * from "./commands/index.js";
export * from "./metrics.js";
export * from "./service.js";
export * from "./shard.js";

export * from "./bus-drops.js";
export * from "./config.js";
export * from "./log-limit.js";
export * from "./logger.js";
export * from "./main.js";
export * from "./metrics.js";
export * from "./ops.js";
export * from "./resources.js";

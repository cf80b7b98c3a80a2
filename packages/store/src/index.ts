export * from "./connection.js";
export * from "./dedup.js";
export * from "./keys.js";
export * from "./names.js";
export * from "./presence.js";
export * from "./registry.js";
export * from "./shadows.js";

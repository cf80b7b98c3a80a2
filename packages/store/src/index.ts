export * from "./connection.js";
export * from "./keys.js";
export * from "./registry.js";
export * from "./shadows.js";

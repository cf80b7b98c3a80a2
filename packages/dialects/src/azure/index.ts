export * from "./auth.js";
export * from "./dialect.js";

export * from "./assignment.js";
export * from "./membership.js";
export * from "./status.js";

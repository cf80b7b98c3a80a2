export * from "./dialect.js";
export * from "./payload.js";
export * from "./render.js";
export * from "./topics.js";

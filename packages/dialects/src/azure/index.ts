export * from "./auth.js";
export * from "./dialect.js";
export * from "./model.js";
export * from "./payload.js";
export * from "./render.js";
export * from "./topics.js";

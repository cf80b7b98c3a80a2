export * from "./app-events.js";
export * from "./metrics.js";
export * from "./onenet.js";
export * from "./reply.js";
export * from "./service.js";

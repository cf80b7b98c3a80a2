export * from "./app-events.js";
export * from "./onenet.js";
export * from "./reply.js";
export * from "./service.js";

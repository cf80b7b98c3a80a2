// OneNET rendering moved to its dialect module; re-exported for the reply's callers.
export { renderOneNetAccepted } from "@umbra/dialects";
export * from "./app-events.js";
export * from "./metrics.js";
export * from "./reply.js";
export * from "./service.js";

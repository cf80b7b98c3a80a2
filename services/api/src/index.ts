export * from "./api.js";
export * from "./events/resume.js";
export * from "./events/sse.js";
export {
  EVENT_STREAM,
  type EventStore,
  type EventStoreOptions,
  openEventStore,
} from "./events/store.js";
export * from "./events/streams.js";
export * from "./keys.js";
export * from "./metrics.js";
export * from "./openapi.js";
export * from "./problems.js";
export * from "./readiness.js";
export { nestsDeeperThan } from "./request-body.js";
export { checkRouteParameters } from "./route-scope.js";
export {
  type ApiDependencies,
  DEVICE,
  pidOf,
  problemResponses,
} from "./routes/common.js";
export * from "./routes/device-calls.js";
export { etag, parseIfMatch } from "./routes/documents.js";
export { lastEventIdOf, shadowFilterOf } from "./routes/events.js";
export {
  namedShadowRoutes,
  SHADOW_NAME_PARAMETER,
  type ShadowNameReader,
  shadowNameOf,
} from "./routes/named-shadows.js";
export { renderView, VIEWS, type View } from "./routes/shadow.js";
export * from "./routes/subdevices.js";
export * from "./routing.js";
export * as schemas from "./schemas.js";
export * from "./server.js";
export * from "./service.js";

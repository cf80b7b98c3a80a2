export * from "./backend.js";
export { ConnectReturnCode, REFUSAL_CODES, Reason, SUBACK_FAILURE } from "./codes.js";
export { DEFAULT_EDGE_LIMITS, type EdgeLimits, resolveEdgeLimits } from "./limits.js";
export { type DialectTraffic, type EdgeMetrics, edgeMetrics } from "./metrics.js";
export { createEdgeServer, type EdgeServer, type EdgeServerOptions } from "./server.js";
export { type EdgeConfig, EdgeListeners, edgeConfig, edgeLayer } from "./service.js";
export type { EdgeSession, ProtocolVersion } from "./session.js";
export {
  clientCertificate,
  MQTT_ALPN_PROTOCOLS,
  type TlsCredentials,
  type TlsListenerOptions,
} from "./tlsListener.js";

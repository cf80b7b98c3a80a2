export * from "./backend.js";
export { ConnectReturnCode, REFUSAL_CODES, Reason, SUBACK_FAILURE } from "./codes.js";
export { DEFAULT_EDGE_LIMITS, type EdgeLimits, resolveEdgeLimits } from "./limits.js";
export {
  createEdgeServer,
  type DialectTraffic,
  type EdgeMetrics,
  type EdgeServer,
  type EdgeServerOptions,
  edgeMetrics,
} from "./server.js";
export { edgeService } from "./service.js";
export type { EdgeSession, ProtocolVersion } from "./session.js";
export {
  clientCertificate,
  MQTT_ALPN_PROTOCOLS,
  type TlsCredentials,
  type TlsListenerOptions,
} from "./tlsListener.js";

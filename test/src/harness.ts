/**
 * The one test harness: servers of their own on free ports (NATS, Redis, Mosquitto), the
 * Umbra services as child processes, and the waits in between. Every process it starts is
 * killed when the test process exits.
 */

export {
  ALL_IN_ONE_ADMIN_KEY,
  type AllInOne,
  startAllInOne,
} from "./all-in-one.js";
export { type ApiCluster, type ApiClusterOptions, startApiCluster } from "./api-cluster.js";
export * from "./cli.js";
export { type ClusterView, isSettled, readCluster } from "./cluster.js";
export {
  type IssuedCertificate,
  type Received,
  type RegisteredDevice,
  registerCertifiedDevice,
  registerDevice,
  TestDevice,
} from "./devices.js";
export {
  containerPid,
  dockerAvailable,
  removeOrphanedContainers,
  serverRuntime,
  testContainerLabels,
} from "./docker.js";
export {
  type HttpAnswer,
  type HttpOptions,
  httpClient,
  openEventStream,
  type SseEvent,
  SseStream,
} from "./http.js";
export { metricsUrlOf, sampleOf, scrapeSample } from "./metrics.js";
export { freePort } from "./ports.js";
export { findBinary } from "./processes.js";
export {
  type NatsOptions,
  type RedisOptions,
  type Server,
  startMosquitto,
  startNats,
  startRedis,
} from "./servers.js";
export {
  type LogLine,
  REPO_ROOT,
  type ServiceProcess,
  type StartServiceOptions,
  startService,
  UMBRA_MAIN,
} from "./service.js";
export { type ServiceTier, startServiceTier } from "./tier.js";
export { connectionRefused, pollUntil, withDeadline } from "./wait.js";

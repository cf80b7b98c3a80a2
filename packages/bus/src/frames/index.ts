/**
 * Wire formats between services, one module per frame family; every frame starts with
 * its tag (`tags.ts` holds them all). Commands keep the device's payload bytes as they
 * arrived (the shard parses them once); outbound messages are length-prefixed so the
 * edge never parses a payload it only forwards.
 */
export type {
  AcceptedEvent,
  CommandOp,
  DocumentEvent,
  OutboundText,
  RejectedEvent,
  ShadowEvent,
} from "@umbra/dialects";
export * from "./acks.js";
export * from "./answers.js";
export * from "./commands.js";
export * from "./events.js";
export * from "./gateway.js";
export * from "./outbound.js";
export { FrameError, Tag } from "./tags.js";

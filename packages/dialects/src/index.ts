export * from "./acl.js";
export * from "./device.js";
export * from "./onenet/gateway.js";
export * from "./onenet/token.js";
export * from "./onenet/topics.js";

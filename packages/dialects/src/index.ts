export * from "./acl.js";
export * from "./aliyun/index.js";
export * from "./device.js";
export * from "./dialect.js";
export * from "./onenet/gateway.js";
export * from "./onenet/token.js";
export * from "./onenet/topics.js";

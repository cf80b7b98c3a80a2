export * from "./client.js";
export * from "./connection.js";
export * from "./frames.js";
export * from "./gateway.js";
export * from "./outbox.js";
export * from "./partition.js";
export * from "./publish.js";
export * from "./subjects.js";

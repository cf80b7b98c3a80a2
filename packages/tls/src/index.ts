export * from "./authority.js";
export * from "./certificate.js";

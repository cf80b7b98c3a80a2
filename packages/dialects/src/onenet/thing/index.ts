/**
 * OneNET OneJSON thing model (issue 18, DIALECTS.md §4): topics, payload readers,
 * replies and calls, and what each request does to a shadow. How the services use it
 * is in the package README ("How it is wired"): the shard runs `property/post`,
 * `desired/get`, `desired/delete` and pack entries (`command.ts`); the edge handles
 * `event/post`, `history/post` and `pack/post`; the API makes calls to a device.
 */
export * from "./codes.js";
export * from "./command.js";
export * from "./payload.js";
export * from "./render.js";
export * from "./shadow.js";
export * from "./topics.js";

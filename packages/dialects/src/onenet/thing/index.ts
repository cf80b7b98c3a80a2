/**
 * OneNET OneJSON thing model (issue 18, DIALECTS.md §4): topics, payload readers,
 * replies and calls, and what each request does to a shadow — pure, not wired yet.
 *
 * How to wire it (the lead's part; nothing here needs a service):
 *
 * Edge — `oneNetDialect.parseTopic`, after the image and gateway topics:
 *   `thingRequestOf(suffix)`. An upload becomes a command of `op: "request"` whose topic
 *   token is `thingToken(upload, null)` (the header's token, ≤ 255 bytes, as Azure's
 *   `$rid`); a call reply becomes a `gateway-reply`-like request forwarded to whoever
 *   waits for the call (see API). `subscribeVerdict`: ask `thingSubscribeVerdict` first,
 *   the current rule when it answers `undefined`.
 *   `pack/post` and `history/post` are the only uploads naming other devices, and each
 *   device's shadow has its own actor: the edge reads them itself (`readThingPack` /
 *   `readThingHistory`, with the session's `mayUse` as `isSubDevice`, so a stranger is
 *   171 before anything is sent), then sends one command per entry to that device's
 *   partition (a property-post-shaped payload for properties, plus the events), and
 *   answers `…/reply` once every entry is acknowledged — the first refusal's code if
 *   any. Everything the reader checks is refused whole; an engine refusal of one entry
 *   (document bound, 161) after others were written cannot be undone across shadows
 *   (no cross-actor transaction), and the reply says so by its code.
 *
 * Shard — `readCommand("request", payload, limits, token)` dispatches on
 *   `parseThingToken(token).upload`, and puts `thingToken(upload, id)` in `clientToken`
 *   (the events carry it; refusals carry the `ThingRefusal`'s code and id):
 *   - `property/post` → `update` with `thingReportedUpdate(post)`: the engine's report,
 *     each property's leaves stamped with its `time` (`UpdateRequest.times`, core).
 *     A struct value merges into the stored one like any report.
 *   - `event/post` → no write: an event kind that the reply answers (`event/post/reply`)
 *     and app-events publishes as `event` events `{identifier, value, time}` (`time` the
 *     device's, else the command's). Through the actor so they stay in order with the
 *     device's reports.
 *   - `property/desired/get` → a `get` carrying the identifiers (a new field on the
 *     `get` command and the document event); the reply renders `thingDesiredData`.
 *   - `property/desired/delete` → the actor runs `thingDesiredDeletion(doc, entries)` on
 *     the document it holds (no race with a cloud set) and applies its `update` if any;
 *     a new command variant that builds its request from the document, like `result`.
 *   - `history/post` entry → `thingHistoryUpdate(doc, latest)` (core
 *     `newerThanReported`: late data never overwrites a newer report; nothing written
 *     when all is older), and the entry's `points` as `history` app events, already
 *     oldest first.
 *   Versions of desired properties are the document versions of their last write
 *   (`thingDesiredVersionOf`): they grow with each set like OneNET's per-property
 *   counter but do not start at 1; a device only hands back what it was given.
 *
 * Reply — `renderAnswer` for a thing token: `thingUploadReplyTopic(device, upload)` with
 *   `renderThingSuccess(id)`, `renderThingDesiredGetReply(id, data)`,
 *   `renderThingRefusal` / `renderThingEngineError` (codes: `codes.ts`). No push: the
 *   thing model has none (desired changes reach a device through the image's delta or
 *   `property/set`).
 *
 * API — `POST …/devices/{dn}/properties:get|properties:set`, `…/services/{id}:invoke`
 *   for a direct device, as the sub-device routes: `buildThingCall` gives the topic and
 *   body (the gateway calls' rules: id, 50 properties, names), `GatewayClient` can carry
 *   it with the call kind as today, the device's `…_reply` is `readThingCallReply`.
 */
export * from "./codes.js";
export * from "./command.js";
export * from "./payload.js";
export * from "./render.js";
export * from "./shadow.js";
export * from "./topics.js";

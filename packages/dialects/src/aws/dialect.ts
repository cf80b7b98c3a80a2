import { err, ok, ShadowErrors } from "@umbra/core";
import { topicMatches } from "../acl.js";
import type { DeviceId } from "../device.js";
import type { DeviceDialect, EventJson } from "../dialect.js";
import type { AcceptedEvent, CommandOp, OutboundText, ShadowEvent } from "../events.js";
import { type AwsLimits, defaultAwsLimits, readAwsRequest } from "./payload.js";
import {
  awsDeleteAcceptedBody,
  awsDeltaBody,
  awsDocumentsBody,
  awsGetAcceptedBody,
  awsRejectedBody,
  awsUpdateAcceptedBody,
} from "./render.js";
import {
  type AwsShadowOp,
  awsAnswerTopic,
  awsDeviceOf,
  awsNamedShadowOf,
  awsSubscribeVerdict,
  parseAwsRequestTopic,
} from "./topics.js";

const AWS = "$aws/";

/** Whether a granted filter can receive one of `answers` of the device's shadows. */
const hears = (
  filter: string,
  device: DeviceId,
  answers: readonly ("update/accepted" | "update/documents")[],
): boolean => {
  if (!filter.startsWith(AWS)) return false;
  // The classic shadow's topics, and a named shadow's: the one the filter names, or any
  // (`_` stands for the name a `+` at that level takes).
  for (const shadow of [undefined, awsNamedShadowOf(filter) ?? "_"])
    for (const answer of answers)
      if (topicMatches(filter, awsAnswerTopic(device.deviceName, shadow, answer))) return true;
  return false;
};
const OTHERS_WRITES = ["update/accepted", "update/documents"] as const;
const DOCUMENTS = ["update/documents"] as const;
const SYNC_LISTENS = new Uint8Array([0]);
const SYNC_DOCUMENTS = new Uint8Array([1]);

/** The request a rejection answers: what the device published to. */
const requestOf = (op: CommandOp): AwsShadowOp => (op === "get" || op === "delete" ? op : "update");

/**
 * An accepted write's messages: `delete/accepted` for a deletion; otherwise
 * `update/accepted` (AWS sends it to every subscriber, whoever wrote), the delta when
 * desired ≠ reported, and the documents when the event carries both documents.
 */
const renderAccepted = (event: AcceptedEvent, thing: string, out: OutboundText[]): void => {
  const { shadow, clientToken } = event;
  if (event.op === "delete") {
    // AWS names the version that was deleted (its SDK's tests expect 1 after one update);
    // a delete event carries its tombstone's, the one after it. (0 after an Alibaba
    // device's epoch roll-over, the one case where the tombstone's is not one after.)
    out.push({
      topic: awsAnswerTopic(thing, shadow, "delete/accepted"),
      body: awsDeleteAcceptedBody(Math.max(0, event.version - 1), event.timestamp, clientToken),
    });
    return;
  }
  out.push({
    topic: awsAnswerTopic(thing, shadow, "update/accepted"),
    body: awsUpdateAcceptedBody(event, clientToken),
  });
  const delta = awsDeltaBody(event, clientToken);
  if (delta !== undefined)
    out.push({ topic: awsAnswerTopic(thing, shadow, "update/delta"), body: delta });
  if (event.previous !== undefined && event.document !== undefined)
    out.push({
      topic: awsAnswerTopic(thing, shadow, "update/documents"),
      body: awsDocumentsBody(event.previous, event.document, event.timestamp, clientToken),
    });
};

const renderAnswer = (
  event: ShadowEvent,
  device: DeviceId,
  out: OutboundText[],
  _json: EventJson,
  nowMs: number,
): void => {
  const thing = device.deviceName;
  // A sync only tells the shard that an AWS session listens: nothing to answer.
  if (event.op === "sync") return;
  switch (event.kind) {
    case "accepted":
      renderAccepted(event, thing, out);
      return;
    case "rejected": {
      const request = requestOf(event.op);
      out.push({
        topic: awsAnswerTopic(thing, event.shadow, `${request}/rejected`),
        body: awsRejectedBody(event.error, nowMs, event.clientToken, event.shadow ?? thing),
      });
      return;
    }
    case "document":
      out.push({
        topic: awsAnswerTopic(thing, event.shadow, "get/accepted"),
        body: awsGetAcceptedBody(event.document, event.timestamp, event.clientToken),
      });
      return;
  }
};

/**
 * The AWS IoT Device Shadow dialect (DIALECTS.md §1), classic shadow: requests on
 * `$aws/things/{thing}/shadow/update|get|delete`, answers on their `/accepted` and
 * `/rejected`, pushes on `update/delta` and `update/documents`; named shadows the same
 * below `…/shadow/name/{shadow}/` (`TopicRequest.shadow`, `ShadowEvent.shadow`).
 * `aws` bounds the state a request may carry (8 KB and 6 levels by default).
 *
 * Authentication: an AWS device connects in OneNET's form (client id = thing name,
 * username = product id before the SDK's `?SDK=…`, password = device token) or by
 * client certificate, which the TLS listener settles; neither needs a form of its own,
 * so `recognise` answers `undefined` and OneNET's fallback reads the CONNECT.
 *
 * AWS topics carry no product: parsed devices have `SESSION_PRODUCT` (empty) for one,
 * which the edge replaces with the session's product (see `topics.ts`).
 */
export const createAwsDialect = (aws: AwsLimits = defaultAwsLimits): DeviceDialect => ({
  name: "aws",

  recognise: () => undefined,

  parseTopic(topic) {
    const request = parseAwsRequestTopic(topic);
    if (request === undefined) return undefined;
    return {
      kind: "command",
      dialect: "aws",
      device: awsDeviceOf(request.thing),
      op: request.op,
      shadow: request.shadow,
    };
  },

  subscribeVerdict: (filter, requestedQos, mayUse) =>
    filter.startsWith(AWS) ? awsSubscribeVerdict(filter, requestedQos, mayUse) : undefined,

  // The `sync` answers nothing (see renderAnswer): it tells the device's actor that an
  // AWS session listens, so a report that left desired alone is pushed as
  // `update/accepted` too; its payload says whether the session can receive
  // `update/documents`, for which the actor's events must carry both documents (they
  // grow ~3×: only then). Only filters that can receive one of those ask for a sync:
  // the v2 client subscribes `…/get/+` and `…/delete/+` around every request, which
  // would otherwise cost the shard one more command per request.
  syncOnSubscribe: (device, filters) =>
    filters.some((filter) => hears(filter, device, OTHERS_WRITES)),
  syncPayload: (device, filters) =>
    filters.some((filter) => hears(filter, device, DOCUMENTS)) ? SYNC_DOCUMENTS : SYNC_LISTENS,

  readCommand(op, payload, limits) {
    if (op !== "update" && op !== "get" && op !== "delete")
      return err({ error: ShadowErrors.invalidParameter("/op", `not an AWS request: ${op}`) });
    const request = readAwsRequest(op, payload, limits, aws);
    if (!request.ok) return err(request.error);
    const { clientToken } = request.value;
    if (request.value.op === "update")
      return ok({ op: "update", update: request.value.update, clientToken });
    // A delete's `version` was ignored by the reader (v1 sends one).
    return ok({ op: request.value.op, clientToken });
  },

  renderAnswer,

  renderPush(event, device, out) {
    // What AWS sends every subscriber of the thing after a change others made.
    if (event.kind === "accepted") renderAccepted(event, device.deviceName, out);
  },
});

/** The AWS dialect with AWS's default bounds. */
export const awsDialect: DeviceDialect = createAwsDialect();

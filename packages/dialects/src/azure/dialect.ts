import { createHash } from "node:crypto";
import {
  err,
  FUNCTION_KEY,
  type FunctionProjection,
  isObject,
  type JsonObject,
  ok,
  ShadowErrors,
  sectionVersionsOf,
} from "@umbra/core";
import type { AuthRefusal, Claim, DeviceDialect } from "../dialect.js";
import { claimOf } from "../dialect.js";
import type { AcceptedEvent, OutboundText, ShadowEvent } from "../events.js";
import { authenticateAzure, recogniseAzure } from "./auth.js";
import { azureModelIdOf } from "./model.js";
import { readAzureMethodResponse, readAzureReportedPatch } from "./payload.js";
import {
  azureDesiredPushBody,
  azureMethodCallBody,
  azureReportedAnswer,
  azureTwinErrorAnswer,
  azureTwinGetAnswer,
} from "./render.js";
import {
  azureDesiredPatchTopic,
  azureDeviceOf,
  azureMethodCallTopic,
  azureSubscribeVerdict,
  isAzureRid,
  parseAzureTopic,
  SESSION_DEVICE,
} from "./topics.js";

const IOTHUB = "$iothub/";
const DEVICES = "devices/";
const METHODS_FILTER = "$iothub/methods/POST/#";
const NO_PAYLOAD = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The `$rid` a function call is sent with as a direct method, and which the device's
 * `$iothub/methods/res/{status}/?$rid=…` names to settle it: the call's request id
 * (`{pid}_{dn}_{funcKey}_{ms}`) when it can stand in a topic, else a digest of it — a
 * function key may hold `/` or spaces, and an id may pass `MAX_AZURE_RID_LENGTH`. A
 * digest never equals a request id (those hold `_`).
 */
export const azureMethodRid = (requestId: string): string =>
  isAzureRid(requestId)
    ? requestId
    : `h${createHash("sha256").update(requestId).digest("hex").slice(0, 40)}`;

/**
 * A method result's token (`TopicRequest.token`): `{status}/{rid}`. A `$rid` holds no
 * `/`, so the first one splits it; a twin request's token is its bare `$rid`.
 */
const methodResultToken = (status: number, rid: string): string => `${status}/${rid}`;
const isMethodResultToken = (token: string | undefined): boolean | undefined =>
  token?.includes("/");

/** The pending call `desired._function` shows, if any. */
const pendingCall = (desired: JsonObject | undefined): FunctionProjection | undefined => {
  if (desired === undefined) return undefined;
  const call = desired[FUNCTION_KEY];
  return isObject(call) && call.status === "pending" ? (call as FunctionProjection) : undefined;
};

/**
 * The direct method that delivers a function call (issue 17: Umbra's function calls are
 * Azure's direct methods). `undefined` when the function key cannot be a method name
 * in a topic: the call then waits for its deadline and times out, as it would for a
 * device that never answers.
 */
const methodCall = (call: FunctionProjection): OutboundText | undefined => {
  const topic = azureMethodCallTopic(call.funcKey, azureMethodRid(call.requestId));
  return topic === undefined ? undefined : { topic, body: azureMethodCallBody(call.params) };
};

const pushMethodCall = (call: FunctionProjection | undefined, out: OutboundText[]): void => {
  if (call === undefined) return;
  const message = methodCall(call);
  if (message !== undefined) out.push(message);
};

/**
 * What a change made by others tells an Azure device: a desired change as
 * `$iothub/twin/PATCH/properties/desired/?$version=` with only what changed, and a
 * function call that reached the head of the queue as a direct method.
 */
const renderChange = (event: AcceptedEvent, out: OutboundText[]): void => {
  if (event.op === "function") {
    // The queue's write keeps its delta only when the head call changed (shard
    // `changedCalls`): a new call to deliver, or the next one after a timeout.
    pushMethodCall(pendingCall(event.delta), out);
    return;
  }
  const change = event.applied.desired;
  if (change === undefined) return;
  // A write that changed desired moved desired's `$version` to its own version.
  const body = azureDesiredPushBody(
    change,
    event.previous?.desired,
    event.version,
    event.document?.metadata.twin?.components,
  );
  if (body !== undefined) out.push({ topic: azureDesiredPatchTopic(event.version), body });
};

const renderAnswer = (event: ShadowEvent, out: OutboundText[], nowMs: number): void => {
  const token = event.clientToken;
  if (event.op === "sync") {
    // A subscription to the methods (or the connect's model id): the call waiting at
    // the head of the queue goes out — seed 001's offline cache, which IoT Hub lacks.
    if (event.kind === "document") pushMethodCall(pendingCall(event.document.desired), out);
    return;
  }
  if (isMethodResultToken(token)) {
    // IoT Hub answers no method result. Settling a call may bring the next to the head.
    if (event.kind === "accepted") pushMethodCall(pendingCall(event.document?.desired), out);
    return;
  }
  if (token === undefined) return;
  switch (event.kind) {
    case "document":
      out.push(azureTwinGetAnswer(token, event.document, sectionVersionsOf(event.document)));
      return;
    case "accepted":
      // The report changed reported: its `$version` is now the write's.
      out.push(azureReportedAnswer(token, event.version));
      return;
    case "rejected":
      out.push(azureTwinErrorAnswer(token, event.error, nowMs));
      return;
  }
};

/**
 * Azure's CONNECT: the SAS claim, with the Plug and Play model id the username names.
 * A model id that is no DTMI refuses the CONNECT: a device naming a model gets it
 * recorded as named, or is told.
 */
const recognise = (clientId: string, username: string): Claim | AuthRefusal | undefined => {
  const claim = claimOf("azure", recogniseAzure(clientId, username), (c, password, key, nowMs) =>
    authenticateAzure(c, password, key, Math.floor(nowMs / 1000)),
  );
  if (claim === undefined || !claim.ok) return claim;
  const model = azureModelIdOf(username);
  if (model === undefined) return claim;
  if (typeof model !== "string") return { ok: false, reason: model.problem };
  return { ...claim, modelId: model };
};

/**
 * Azure IoT Hub's device twin, Plug and Play and direct methods (DIALECTS.md §2), on the
 * canonical document:
 *   `$iothub/twin/GET/?$rid=`                    → get    → `twin/res/200` with the twin
 *   `$iothub/twin/PATCH/properties/reported/?$rid=` → update → `twin/res/204/?…&$version=`
 *   `$iothub/methods/res/{status}/?$rid=`        → request (a function call's result)
 *   `devices/{id}/messages/events/{bag}`         → telemetry (the edge, to the event stream)
 * and pushes `$iothub/twin/PATCH/properties/desired/?$version=` and
 * `$iothub/methods/POST/{funcKey}/?$rid=`. `$rid` travels as the command's token and
 * comes back byte for byte. `$iothub/…` names no device: `SESSION_DEVICE`, the
 * connection's own; `devices/{id}` names no hub: the session's product.
 *
 * Each section's `$version` is the version of the last write that changed it
 * (`sectionVersionsOf`), kept from the shadow's first Azure write on.
 */
export const azureDialect: DeviceDialect = {
  name: "azure",

  recognise,

  parseTopic(topic) {
    if (!topic.startsWith(IOTHUB) && !topic.startsWith(DEVICES)) return undefined;
    const request = parseAzureTopic(topic);
    if (request === undefined) return undefined;
    switch (request.kind) {
      case "twin-get":
        return {
          kind: "command",
          dialect: "azure",
          device: SESSION_DEVICE,
          op: "get",
          token: request.rid,
        };
      case "twin-reported":
        return {
          kind: "command",
          dialect: "azure",
          device: SESSION_DEVICE,
          op: "update",
          token: request.rid,
        };
      case "method-response":
        return {
          kind: "command",
          dialect: "azure",
          device: SESSION_DEVICE,
          op: "request",
          token: methodResultToken(request.status, request.rid),
        };
      case "telemetry":
        return {
          kind: "telemetry",
          device: azureDeviceOf(request.deviceId),
          properties: request.properties,
        };
    }
  },

  subscribeVerdict: azureSubscribeVerdict,

  // The methods filter: a call queued while the device was away goes out now.
  syncOnSubscribe: (_device, filters) => filters.includes(METHODS_FILTER),
  syncPayload: () => NO_PAYLOAD,

  readCommand(op, payload, limits, token) {
    if (token === undefined)
      return err({ error: ShadowErrors.invalidParameter("/$rid", "the request has no $rid") });
    switch (op) {
      case "get":
        return ok({ op: "get", clientToken: token });
      case "update": {
        const patch = readAzureReportedPatch(payload, limits);
        if (!patch.ok) return err({ ...patch.error, clientToken: token });
        // The patch as sent: the engine unwraps the acks into the twin's `$metadata`.
        return ok({
          op: "update",
          update: { desired: undefined, reported: patch.value.patch, source: "device" },
          clientToken: token,
          twin: true,
        });
      }
      case "request": {
        const slash = token.indexOf("/");
        const rid = token.slice(slash + 1);
        const result = readAzureMethodResponse(Number(token.slice(0, slash)), payload, limits);
        if (!result.ok) return err({ error: result.error, clientToken: token });
        return ok({
          op: "result",
          answers: (requestId: string) => azureMethodRid(requestId) === rid,
          status: result.value.outcome,
          result: result.value.result,
          clientToken: token,
        });
      }
      default:
        return err({
          error: ShadowErrors.invalidParameter("/op", `not an Azure request: ${op}`),
          clientToken: token,
        });
    }
  },

  renderAnswer: (event, _device, out, _json, nowMs) => renderAnswer(event, out, nowMs),

  renderPush(event, _device, out) {
    if (event.kind === "accepted" && event.shadow === undefined) renderChange(event, out);
  },
};

/** The model id a connect's `sync` carries to the shard (its payload), in UTF-8. */
export const encodeAzureModelSync = (modelId: string): Uint8Array => encoder.encode(modelId);
/** The model id of a `sync` payload; `undefined` for an empty one (a subscription's). */
export const decodeAzureModelSync = (payload: Uint8Array): string | undefined =>
  payload.length === 0 ? undefined : decoder.decode(payload);

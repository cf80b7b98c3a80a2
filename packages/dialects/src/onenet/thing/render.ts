import {
  buildGatewayRequest,
  encodeJson,
  err,
  type GatewayRequest,
  type JsonValue,
  type Limits,
  ok,
  type Result,
  type ShadowError,
  ShadowErrors,
} from "@umbra/core";
import type { DeviceId } from "../../device.js";
import { ONENET_THING_MESSAGES, ONENET_THING_SUCCESS, type ThingErrorCode } from "./codes.js";
import type { ThingRefusal } from "./payload.js";
import type { ThingDesiredData } from "./shadow.js";
import { MAX_THING_IDENTIFIER_LENGTH, thingCallTopic } from "./topics.js";

/**
 * Messages the cloud sends on the thing topics: answers to uploads (`…/reply`) and calls
 * to a device (`property/set`, `property/get`, `service/{id}/invoke`).
 */

/** `{"id","code":200,"msg":"success"}`: an upload accepted (DIALECTS.md §4.2). */
export const renderThingSuccess = (id: string): string =>
  encodeJson({ id, code: ONENET_THING_SUCCESS, msg: ONENET_THING_MESSAGES[200] });

/** `{"id","code","msg"}` for a refusal: the request's id (`null` if unread), the table's code. */
export const renderThingRefusal = (refusal: ThingRefusal): string =>
  renderThingError(refusal.id, refusal.code);

/** An error reply by code. */
export const renderThingError = (id: string | null, code: ThingErrorCode): string =>
  encodeJson({ id, code, msg: ONENET_THING_MESSAGES[code] });

/** `desired/get/reply`: success with `data` (`{identifier:{"value","version"}}`). */
export const renderThingDesiredGetReply = (id: string, data: ThingDesiredData): string =>
  encodeJson({ id, code: ONENET_THING_SUCCESS, msg: ONENET_THING_MESSAGES[200], data });

/** A call to a direct device, ready to publish. */
export interface ThingCallMessage {
  readonly topic: string;
  /** `{"id","version","params"}`: params the values (set), identifiers (get) or input (invoke). */
  readonly body: string;
}

/**
 * A call to a device (DIALECTS.md §4.1–4.2) on its own topics: property set
 * `{"params":{identifier:value}}`, get `{"params":[identifier,…]}`, service
 * `{"params":{…input}}` on `thing/service/{identifier}/invoke`. The same rules as a
 * gateway's sub-device calls (seed 003, the engine's `buildGatewayRequest`): an id of
 * 1–13 digits, 1–50 properties, names and values the engine accepts; and a service
 * identifier that can stand in a topic.
 */
export const buildThingCall = (
  device: DeviceId,
  id: string,
  request: GatewayRequest,
  options: { readonly version?: string; readonly limits?: Limits } = {},
): Result<ThingCallMessage, ShadowError> => {
  // The engine checks the call as it checks a gateway's, for a sub-device of no name;
  // a direct device's envelope is the gateway's without the sub-device.
  const checked = buildGatewayRequest(id, { productID: "", deviceName: "" }, request, options);
  if (!checked.ok) return checked;
  const topic = thingCallTopic(device, request);
  if (topic === undefined)
    return err(
      ShadowErrors.invalidParameter(
        "/identifier",
        `must be 1–${MAX_THING_IDENTIFIER_LENGTH} characters without '/', '+', '#', whitespace or control characters, not starting with '$'`,
      ),
    );
  const inner = checked.value.params;
  // Both are set by the engine for their kind.
  const params = (request.kind === "service/invoke" ? inner.input : inner.params) as JsonValue;
  return ok({
    topic,
    body: encodeJson({ id, version: checked.value.version, params }),
  });
};

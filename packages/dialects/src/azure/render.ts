import {
  COMPONENT_MARKER,
  describeError,
  encodeJson,
  FUNCTION_KEY,
  FUNCTION_RESULT_KEY,
  hasOwn,
  isObject,
  type JsonObject,
  type JsonValue,
  type SectionVersions,
  type ShadowError,
  type TwinAck,
  toPointer,
} from "@umbra/core";
import type { OutboundText } from "../events.js";
import { azureTwinResponseTopic } from "./topics.js";

/**
 * Bodies (and answer messages) of the Azure twin and method topics (DIALECTS.md §2.2).
 * `$version` is always the section's own (`sectionVersionsOf`: the version of the
 * section's last change), never the document's version itself. The function-call keys (`_function` in desired, `_function_result` in
 * reported) are Umbra's OneNET call channel: an Azure device gets its calls as direct
 * methods, so they never appear in a twin body or a desired push.
 */

/** Ack-wrapping of a reported value (`{"value","ac","av"[,"ad"]}`), as the device sent it. */
const wrapped = (value: JsonValue, ack: TwinAck): JsonObject =>
  ack.description === undefined
    ? { value, ac: ack.code, av: ack.version }
    : { value, ac: ack.code, av: ack.version, ad: ack.description };

/** Sets a member named by device input: `__proto__` stays an own key, never the prototype. */
const put = (object: Record<string, JsonValue>, key: string, value: JsonValue): void => {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
};

/** Copies `state` into a fresh object without `hidden` (kept an own key, `__proto__` too). */
const copyWithout = (state: JsonObject, hidden: string | undefined): Record<string, JsonValue> => {
  const out: Record<string, JsonValue> = {};
  for (const key in state) if (key !== hidden) put(out, key, state[key] as JsonValue);
  return out;
};

/**
 * Reported as IoT Hub keeps it: an acknowledged property (root or in a component)
 * wrapped again in its ack, which the engine stored apart from the value
 * (`metadata.twin.acks`), so a device reads back what it reported.
 */
const reportedWithAcks = (
  reported: JsonObject,
  acks: { readonly [pointer: string]: TwinAck } | undefined,
): Record<string, JsonValue> => {
  const out = copyWithout(reported, FUNCTION_RESULT_KEY);
  if (acks === undefined) return out;
  for (const key in out) {
    const value = out[key] as JsonValue;
    const pointer = toPointer([key]);
    if (hasOwn(acks, pointer)) put(out, key, wrapped(value, acks[pointer] as TwinAck));
    else if (isObject(value) && value[COMPONENT_MARKER] === "c") {
      let component: Record<string, JsonValue> | undefined;
      for (const p in value) {
        const pointer = toPointer([key, p]);
        if (!hasOwn(acks, pointer)) continue;
        component ??= copyWithout(value, undefined);
        put(component, p, wrapped(value[p] as JsonValue, acks[pointer] as TwinAck));
      }
      if (component !== undefined) put(out, key, component);
    }
  }
  return out;
};

/**
 * Marks the components of `section` with `"__t":"c"` (first, as IoT Hub writes it) where
 * the stored value lacks it: the digital twin API records a component in
 * `metadata.twin.components` and writes its properties without the marker, but a Plug
 * and Play device finds its components by the marker, in a GET and in a desired push.
 */
const markComponents = (
  section: Record<string, JsonValue>,
  components: readonly string[] | undefined,
): void => {
  if (components === undefined) return;
  for (const name of components) {
    if (!hasOwn(section, name)) continue;
    const value = section[name];
    if (!isObject(value) || hasOwn(value, COMPONENT_MARKER)) continue;
    const marked: Record<string, JsonValue> = { [COMPONENT_MARKER]: "c" };
    for (const key in value) put(marked, key, value[key] as JsonValue);
    put(section, name, marked);
  }
};

/** What a twin body is made of: the document's sections and the twin's acks. */
export interface AzureTwinSource {
  readonly desired: JsonObject;
  readonly reported: JsonObject;
  readonly metadata: {
    readonly twin?: {
      readonly acks?: { readonly [p: string]: TwinAck };
      readonly components?: readonly string[];
    };
  };
}

/**
 * `$iothub/twin/res/200/?$rid=…`'s body: `{"desired":{…,"$version"},"reported":{…,"$version"}}`
 * with each section's own version, `$version` last as IoT Hub writes it.
 */
export const azureTwinBody = (doc: AzureTwinSource, versions: SectionVersions): string => {
  const desired = copyWithout(doc.desired, FUNCTION_KEY);
  markComponents(desired, doc.metadata.twin?.components);
  desired.$version = versions.desired;
  const reported = reportedWithAcks(doc.reported, doc.metadata.twin?.acks);
  reported.$version = versions.reported;
  return encodeJson({ desired, reported });
};

/** The GET answer: status 200, the rid echoed, the twin body. */
export const azureTwinGetAnswer = (
  rid: string,
  doc: AzureTwinSource,
  versions: SectionVersions,
): OutboundText => ({
  topic: azureTwinResponseTopic(200, rid),
  body: azureTwinBody(doc, versions),
});

/** A reported patch's answer: 204, empty body, the new reported `$version` in the topic. */
export const azureReportedAnswer = (rid: string, reportedVersion: number): OutboundText => ({
  topic: azureTwinResponseTopic(204, rid, reportedVersion),
  body: "",
});

/**
 * `$iothub/twin/PATCH/properties/desired/?$version=…`'s body: only the changed members
 * (`null` = deleted) and the new desired `$version`. `change` is the write's applied
 * desired (a merge patch), or `null` when the write cleared desired, which Azure can
 * only say member by member: every member of `before` (the desired it cleared) as
 * `null`. `undefined` when there is nothing to push — the change only moved the
 * function-call key, or a clear whose previous desired is not known. `components`
 * (`metadata.twin.components`) get their `"__t":"c"` marker where the change lacks it.
 */
export const azureDesiredPushBody = (
  change: JsonObject | null,
  before: JsonObject | undefined,
  desiredVersion: number,
  components?: readonly string[],
): string | undefined => {
  let body: Record<string, JsonValue>;
  if (change === null) {
    if (before === undefined) return undefined;
    body = {};
    for (const key in before) if (key !== FUNCTION_KEY) put(body, key, null);
  } else {
    body = copyWithout(change, FUNCTION_KEY);
    markComponents(body, components);
  }
  for (const _ in body) {
    body.$version = desiredVersion;
    return encodeJson(body);
  }
  return undefined;
};

/** An error as IoT Hub answers it: the status for the topic, `errorCode` and `message`. */
export interface AzureErrorAnswer {
  readonly status: number;
  readonly errorCode: number;
  readonly message: string;
}

/**
 * IoT Hub's status and six-digit error code for an engine error. What a device sent
 * wrong is 400 `ArgumentInvalid` (400004) — the twin limits of §2.4 included; the rest
 * follow IoT Hub's codes for the same situation.
 */
export const azureErrorAnswer = (error: ShadowError): AzureErrorAnswer => {
  const message = describeError(error);
  switch (error._tag) {
    case "VersionConflict":
    case "VersionNotNewer":
      return { status: 412, errorCode: 412002, message }; // PreconditionFailed
    case "ShadowNotFound":
    case "FunctionNotFound":
      return { status: 404, errorCode: 404001, message }; // DeviceNotFound
    case "ShadowExists":
      return { status: 409, errorCode: 409001, message }; // DeviceAlreadyExists
    case "QueueFull":
      return { status: 429, errorCode: 429001, message }; // ThrottlingException
    case "Unspecified":
      return { status: 500, errorCode: 500001, message }; // ServerError
    default:
      return { status: 400, errorCode: 400004, message }; // ArgumentInvalid
  }
};

/** ISO-8601 UTC to the second, as IoT Hub's `timestampUtc`. */
const utcSeconds = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/**
 * An error body: `{"errorCode","message","trackingId","timestampUtc"}`. The Node SDK
 * reads only this body (not the topic's status) to fail a twin request, with
 * `new Error(message)`, so an error answer must carry it.
 */
export const azureErrorBody = (answer: AzureErrorAnswer, trackingId: string, nowMs: number) =>
  encodeJson({
    errorCode: answer.errorCode,
    message: answer.message,
    trackingId,
    timestampUtc: utcSeconds(nowMs),
  });

/** A refused twin request: the error's status in the topic, the rid echoed, the error body. */
export const azureTwinErrorAnswer = (
  rid: string,
  error: ShadowError,
  nowMs: number,
): OutboundText => {
  const answer = azureErrorAnswer(error);
  return {
    topic: azureTwinResponseTopic(answer.status, rid),
    body: azureErrorBody(answer, rid, nowMs),
  };
};

/** A direct method call's body: the call's parameters as JSON. */
export const azureMethodCallBody = (params: JsonValue): string => encodeJson(params);

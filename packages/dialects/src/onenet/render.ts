import {
  appliedTimestamps,
  computeDelta,
  encodeJson,
  metadataOf,
  oneNetDelta,
  renderOneNetGetAccepted,
  renderOneNetRejected,
  seconds,
} from "@umbra/core";
import type { DeviceId } from "../device.js";
import type { EventJson } from "../dialect.js";
import type { AcceptedEvent, OutboundText, ShadowEvent } from "../events.js";
import { ONENET_IMAGE, oneNetTopic } from "./topics.js";

/**
 * The JSON every renderer of an accepted event may reuse, encoded once: `applied` and
 * the OneNET `update/delta` message (application events carry it too), `undefined`
 * when the write left desired = reported.
 */
const NO_JSON: EventJson = Object.freeze({ applied: undefined, delta: undefined });

export const eventJsonOf = (event: ShadowEvent): EventJson => {
  if (event.kind !== "accepted") return NO_JSON;
  const delta =
    event.delta !== undefined && event.deltaMetadata !== undefined
      ? encodeJson(oneNetDelta(event.delta, event.deltaMetadata, event.version, event.timestamp))
      : undefined;
  return { applied: encodeJson(event.applied), delta };
};

/**
 * An accepted write's OneNET messages: `update/accepted` to the device that asked
 * (`applied` is written in as text: the same bytes `encodeJson` of the whole message
 * gives), `update/delta` after any write that leaves desired ≠ reported.
 */
const renderAccepted = (
  event: AcceptedEvent,
  device: DeviceId,
  out: OutboundText[],
  json: EventJson,
): void => {
  if (event.source === "device") {
    const ts = seconds(event.timestamp);
    const applied = json.applied ?? encodeJson(event.applied);
    out.push({
      topic: oneNetTopic(device, ONENET_IMAGE.updateAccepted),
      body: `{"state":${applied},"metadata":${encodeJson(appliedTimestamps(event.applied, ts))},"version":${event.version},"timestamp":${ts}}`,
    });
  }
  if (json.delta !== undefined)
    out.push({ topic: oneNetTopic(device, ONENET_IMAGE.updateDelta), body: json.delta });
};

/** An accepted write's OneNET messages pushed onto `out`, and the JSON they reuse. */
export const renderOneNetAccepted = (
  event: AcceptedEvent,
  device: DeviceId,
  out: OutboundText[],
): EventJson & { readonly applied: string } => {
  const json = eventJsonOf(event);
  renderAccepted(event, device, out, json);
  return json as EventJson & { readonly applied: string };
};

/**
 * The OneNET device image messages (seed 000) answering a device's own request:
 * accepted / rejected on the topic of its request, and the delta after a write that
 * leaves desired ≠ reported.
 */
export const renderOneNetAnswer = (
  event: ShadowEvent,
  device: DeviceId,
  out: OutboundText[],
  json: EventJson,
): void => {
  switch (event.kind) {
    case "accepted":
      renderAccepted(event, device, out, json);
      return;
    case "rejected":
      // A sync of a device without a shadow: nothing is asked of it.
      if (event.op === "sync") return;
      out.push({
        topic: oneNetTopic(
          device,
          event.op === "get" ? ONENET_IMAGE.getRejected : ONENET_IMAGE.updateRejected,
        ),
        body: encodeJson(renderOneNetRejected(event.error)),
      });
      return;
    case "document": {
      if (event.op !== "sync") {
        out.push({
          topic: oneNetTopic(device, ONENET_IMAGE.getAccepted),
          body: encodeJson(renderOneNetGetAccepted(event.document, event.timestamp)),
        });
        return;
      }
      // The device subscribed to its deltas with a function call waiting (offline
      // caching, seed 001): the delta carrying it. Nothing otherwise — seed 000 sends a
      // delta only after a write.
      const doc = event.document;
      if (doc.desired._function === undefined) return;
      const delta = computeDelta(doc.desired, doc.reported);
      if (delta === undefined) return;
      const body = oneNetDelta(
        delta,
        metadataOf(delta, doc.metadata.desired),
        doc.version,
        event.timestamp,
      );
      out.push({ topic: oneNetTopic(device, ONENET_IMAGE.updateDelta), body: encodeJson(body) });
      return;
    }
  }
};

/** A change someone else made reaches a OneNET device as its delta, if any. */
export const renderOneNetPush = (
  event: ShadowEvent,
  device: DeviceId,
  out: OutboundText[],
  json: EventJson,
): void => {
  if (event.kind === "accepted" && json.delta !== undefined)
    out.push({ topic: oneNetTopic(device, ONENET_IMAGE.updateDelta), body: json.delta });
};

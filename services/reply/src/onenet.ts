import type { AcceptedEvent, OutboundText, ShadowEvent } from "@umbra/bus";
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
import { type DeviceId, ONENET_IMAGE, oneNetTopic } from "@umbra/dialects";

// Bodies stay text: `encodeDeliverText` writes them into the frame as UTF-8 directly.
const message = (topic: string, body: object): OutboundText => ({
  topic,
  body: encodeJson(body),
});

/** The JSON of an accepted write's parts, for the application event to reuse. */
export interface AcceptedJson {
  /** `applied` (the state the write applied) as JSON. */
  readonly applied: string;
  /** The OneNET `update/delta` message, when the write left desired ≠ reported. */
  readonly delta: string | undefined;
}

/**
 * An accepted write's OneNET messages, pushed onto `out`: `update/accepted` to the device
 * that asked, `update/delta` after any write that leaves desired ≠ reported. `applied` is
 * encoded once and written into the accepted message as text (the same bytes
 * `encodeJson` of the whole message gives), so the application event reuses it.
 */
export const renderOneNetAccepted = (
  event: AcceptedEvent,
  device: DeviceId,
  out: OutboundText[],
): AcceptedJson => {
  const applied = encodeJson(event.applied);
  if (event.source === "device") {
    const ts = seconds(event.timestamp);
    out.push({
      topic: oneNetTopic(device, ONENET_IMAGE.updateAccepted),
      body: `{"state":${applied},"metadata":${encodeJson(appliedTimestamps(event.applied, ts))},"version":${event.version},"timestamp":${ts}}`,
    });
  }
  let delta: string | undefined;
  if (event.delta !== undefined && event.deltaMetadata !== undefined) {
    delta = encodeJson(
      oneNetDelta(event.delta, event.deltaMetadata, event.version, event.timestamp),
    );
    out.push({ topic: oneNetTopic(device, ONENET_IMAGE.updateDelta), body: delta });
  }
  return { applied, delta };
};

/**
 * The OneNET device image messages (seed 000) an event makes. The device that asked
 * gets accepted / rejected on the topic of its request; a write by anyone that leaves
 * desired ≠ reported sends the delta.
 */
export const renderOneNetEvent = (event: ShadowEvent, device: DeviceId): OutboundText[] => {
  const fromDevice = event.source === "device";
  switch (event.kind) {
    case "accepted": {
      const out: OutboundText[] = [];
      renderOneNetAccepted(event, device, out);
      return out;
    }
    case "rejected":
      // A sync of a device without a shadow: nothing is asked of it.
      if (!fromDevice || event.op === "sync") return [];
      return [
        message(
          oneNetTopic(
            device,
            event.op === "get" ? ONENET_IMAGE.getRejected : ONENET_IMAGE.updateRejected,
          ),
          renderOneNetRejected(event.error),
        ),
      ];
    case "document": {
      if (!fromDevice) return [];
      if (event.op === "sync") {
        // The device subscribed to its deltas with a function call waiting (offline
        // caching, seed 001): the delta carrying it. Nothing otherwise — seed 000 sends a
        // delta only after a write.
        const doc = event.document;
        if (doc.desired._function === undefined) return [];
        const delta = computeDelta(doc.desired, doc.reported);
        if (delta === undefined) return [];
        const body = oneNetDelta(
          delta,
          metadataOf(delta, doc.metadata.desired),
          doc.version,
          event.timestamp,
        );
        return [{ topic: oneNetTopic(device, ONENET_IMAGE.updateDelta), body: encodeJson(body) }];
      }
      return [
        message(
          oneNetTopic(device, ONENET_IMAGE.getAccepted),
          renderOneNetGetAccepted(event.document, event.timestamp),
        ),
      ];
    }
  }
};

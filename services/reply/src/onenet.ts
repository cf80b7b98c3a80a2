import type { OutboundText, ShadowEvent } from "@umbra/bus";
import {
  encodeJson,
  oneNetDelta,
  oneNetUpdateAccepted,
  renderOneNetGetAccepted,
  renderOneNetRejected,
} from "@umbra/core";
import { type DeviceId, ONENET_IMAGE, oneNetTopic } from "@umbra/dialects";

// Bodies stay text: `encodeDeliverText` writes them into the frame as UTF-8 directly.
const message = (topic: string, body: object): OutboundText => ({
  topic,
  body: encodeJson(body),
});

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
      if (fromDevice)
        out.push(
          message(
            oneNetTopic(device, ONENET_IMAGE.updateAccepted),
            oneNetUpdateAccepted(event.applied, event.version, event.timestamp),
          ),
        );
      if (event.delta !== undefined && event.deltaMetadata !== undefined)
        out.push(
          message(
            oneNetTopic(device, ONENET_IMAGE.updateDelta),
            oneNetDelta(event.delta, event.deltaMetadata, event.version, event.timestamp),
          ),
        );
      return out;
    }
    case "rejected":
      if (!fromDevice) return [];
      return [
        message(
          oneNetTopic(
            device,
            event.op === "get" ? ONENET_IMAGE.getRejected : ONENET_IMAGE.updateRejected,
          ),
          renderOneNetRejected(event.error),
        ),
      ];
    case "document":
      if (!fromDevice) return [];
      return [
        message(
          oneNetTopic(device, ONENET_IMAGE.getAccepted),
          renderOneNetGetAccepted(event.document, event.timestamp),
        ),
      ];
  }
};

import { isObject, type JsonObject, type JsonValue } from "@umbra/core";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A top-level member of a payload the engine's reader refused (too large, too deep, a
 * lone surrogate, a duplicate key…) but that is JSON all the same: the correlation a
 * refusal must echo (AWS `clientToken`, OneNET thing `id`), or a client waiting for it
 * only times out. A refusal path only, on a payload the edge already bounded
 * (`MQTT_MAX_PACKET_BYTES`); not-JSON or not-UTF-8 has nothing to read.
 */
export const salvageMember = (payload: Uint8Array | string, member: string): unknown => {
  try {
    const body: unknown = JSON.parse(
      typeof payload === "string" ? payload : strictUtf8.decode(payload),
    );
    return isObject(body as JsonValue) ? (body as JsonObject)[member] : undefined;
  } catch {
    return undefined;
  }
};

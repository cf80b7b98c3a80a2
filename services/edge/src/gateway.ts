import { type DeviceId, SESSION_PRODUCT } from "@umbra/dialects";
import type { HandlerSession } from "./handlerSession.js";

/**
 * Whether a session may use `device`'s topics: its own, or a registered sub-device's
 * its gateway acts for (seed 003). Dialects read the device from a topic or filter; a
 * wildcard in the device part never names one (names never contain `+` or `#`).
 *
 * A topic that names no product (AWS `$aws/things/{thing}/…`: `SESSION_PRODUCT`) means
 * the session's product, and only the session's own device: a gateway's sub-devices
 * are not addressed through AWS topics, since a thing name alone could not tell apart
 * sub-devices of different products. One that names no device either (Azure's
 * `$iothub/…`: `SESSION_DEVICE`, an empty name) is the connection's own device.
 */
export const mayUseDevice = (session: HandlerSession, device: DeviceId): boolean => {
  const own = session.device;
  if (device.productId === SESSION_PRODUCT)
    return device.deviceName === "" || device.deviceName === own.deviceName;
  if (device.deviceName === own.deviceName && device.productId === own.productId) return true;
  const { backend } = session.context;
  return backend.actsFor?.(session, device) === true;
};

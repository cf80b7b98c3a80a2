import type { DeviceId } from "@umbra/dialects";
import type { HandlerSession } from "./handlerSession.js";

/**
 * Whether a session may use `device`'s topics: its own, or a registered sub-device's
 * its gateway acts for (seed 003). Dialects read the device from a topic or filter; a
 * wildcard in the device part never names one (names never contain `+` or `#`).
 */
export const mayUseDevice = (session: HandlerSession, device: DeviceId): boolean => {
  const own = session.device;
  if (device.deviceName === own.deviceName && device.productId === own.productId) return true;
  const { backend } = session.context;
  return backend.actsFor?.(session, device) === true;
};

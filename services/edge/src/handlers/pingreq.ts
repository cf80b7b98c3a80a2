import type { HandlerSession } from "../handlerSession.js";

/** PINGREQ: its arrival already refreshed the keep-alive clock; answer it. */
export const handlePingreq = (session: HandlerSession): void => {
  session.send({ cmd: "pingresp" });
};

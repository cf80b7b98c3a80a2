import type { Session } from "../session.js";

/** PINGREQ: its arrival already refreshed the keep-alive clock; answer it. */
export const handlePingreq = (session: Session): void => {
  session.send({ cmd: "pingresp" });
};

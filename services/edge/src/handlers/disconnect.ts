import type { IDisconnectPacket } from "mqtt-packet";
import { Reason } from "../codes.js";
import type { HandlerSession as Session } from "../handlerSession.js";

/**
 * DISCONNECT from the client: a clean end, which MQTT 5 may use to change how long the
 * session is kept. No will to discard: wills are not supported.
 */
export const handleDisconnect = (session: Session, packet: IDisconnectPacket): void => {
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined && !session.changeSessionExpiry(expiry)) {
    session.close(Reason.protocolError, "Session Expiry Interval set at DISCONNECT, not CONNECT");
    return;
  }
  session.end("client disconnected");
};

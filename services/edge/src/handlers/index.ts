import type { Packet } from "mqtt-packet";
import { Reason } from "../codes.js";
import type { HandlerSession } from "../handlerSession.js";
import { handleConnect } from "./connect.js";
import { handleDisconnect } from "./disconnect.js";
import { handlePingreq } from "./pingreq.js";
import { handlePuback } from "./puback.js";
import { handlePublish } from "./publish.js";
import { handleSubscribe } from "./subscribe.js";
import { handleUnsubscribe } from "./unsubscribe.js";

export { screenConnect } from "./connect.js";

/**
 * One parsed packet to its handler. Reading is held from CONNECT to CONNACK, so every
 * packet but the first arrives on an open session.
 */
export const handlePacket = (session: HandlerSession, packet: Packet): void => {
  switch (packet.cmd) {
    case "connect":
      handleConnect(session, packet);
      return;
    case "publish":
      handlePublish(session, packet);
      return;
    case "subscribe":
      handleSubscribe(session, packet);
      return;
    case "unsubscribe":
      handleUnsubscribe(session, packet);
      return;
    case "pingreq":
      handlePingreq(session);
      return;
    case "disconnect":
      handleDisconnect(session, packet);
      return;
    case "puback":
      handlePuback();
      return;
    default:
      // Server-to-client packets, QoS 2 flows and AUTH: none belong here.
      session.close(Reason.protocolError, `unexpected ${packet.cmd} packet`);
  }
};

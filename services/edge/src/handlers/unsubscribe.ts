import type { IUnsubscribePacket } from "mqtt-packet";
import { Reason } from "../codes.js";
import type { HandlerSession } from "../handlerSession.js";

/** UNSUBSCRIBE: MQTT 5 says per filter whether there was a subscription; 3.1.1 cannot. */
export const handleUnsubscribe = (session: HandlerSession, packet: IUnsubscribePacket): void => {
  if (packet.unsubscriptions.length === 0) {
    session.close(Reason.protocolError, "UNSUBSCRIBE without a topic filter");
    return;
  }
  const granted = packet.unsubscriptions.map((filter) =>
    session.subscriptions.delete(filter) ? Reason.success : Reason.noSubscriptionExisted,
  );
  const messageId = packet.messageId ?? 0;
  session.send(
    session.protocolVersion === 5
      ? { cmd: "unsuback", messageId, granted }
      : { cmd: "unsuback", messageId, granted: [] },
  );
};

import { parseDeviceTopic, SESSION_PRODUCT, type TopicRequest } from "@umbra/dialects";
import type { IPublishPacket } from "mqtt-packet";
import { Reason } from "../codes.js";
import { mayUseDevice } from "../gateway.js";
import type { HandlerSession } from "../handlerSession.js";
import { isValidTopicName, longerThanBytes } from "../topics.js";

/**
 * PUBLISH from a device: checked (QoS, topic, ACL) and handed to the backend in the
 * order received. QoS 1 is acknowledged only once the backend says the cluster has it.
 * Retain is ignored: the edge keeps no retained messages, a retained publish is an
 * ordinary one.
 */
export const handlePublish = (session: HandlerSession, packet: IPublishPacket): void => {
  const { topic, qos } = packet;
  if (qos === 2) {
    session.close(Reason.qosNotSupported, "QoS 2 is not supported");
    return;
  }
  if (packet.properties?.topicAlias !== undefined) {
    session.close(Reason.topicAliasInvalid, "topic aliases are not supported");
    return;
  }
  const { backend, limits } = session.context;
  if (!isValidTopicName(topic) || longerThanBytes(topic, limits.maxTopicBytes)) {
    session.close(Reason.topicNameInvalid, "invalid topic name");
    return;
  }
  // The topic is read once, by the dialect whose form it has; the device it names must
  // be the session's own or a sub-device its gateway acts for.
  const parsed = parseDeviceTopic(topic);
  if (parsed === undefined || !mayUseDevice(session, parsed.device)) {
    denyPublish(session, packet);
    return;
  }
  const request = withSessionProduct(parsed, session);
  const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
  if (qos === 0) {
    try {
      backend.publish(session, {
        request,
        topic,
        payload,
        qos: 0,
        packetId: undefined,
        dup: false,
      });
    } catch (error) {
      session.logError({ err: error, topic }, "backend.publish failed");
    }
    return;
  }

  const messageId = packet.messageId ?? 0;
  // An MQTT 5 client was told the window (Receive Maximum); a 3.1.1 client never gets
  // this far past a full window because reading stops at it.
  if (session.inflight >= limits.maxInflight) {
    session.close(Reason.receiveMaximumExceeded, "receive maximum exceeded");
    return;
  }
  session.inflightStarted();
  let settled: Promise<boolean> | undefined;
  try {
    settled = backend.publish(session, {
      request,
      topic,
      payload,
      qos: 1,
      packetId: messageId,
      dup: packet.dup,
    });
  } catch (error) {
    session.logError({ err: error, topic }, "backend.publish failed");
  }
  if (settled === undefined) {
    session.inflightSettled(messageId, false);
    return;
  }
  settled.then(
    (acknowledged) => session.inflightSettled(messageId, acknowledged === true),
    (error: unknown) => {
      session.logError({ err: error, topic }, "backend.publish failed");
      session.inflightSettled(messageId, false);
    },
  );
};

/**
 * A topic that names no product (AWS: `SESSION_PRODUCT`) is about the session's own
 * device, as the ACL checked: the backend gets the full device, so every command has a
 * `{pid}/{dn}` key.
 */
const withSessionProduct = (request: TopicRequest, session: HandlerSession): TopicRequest =>
  request.device.productId === SESSION_PRODUCT ? { ...request, device: session.device } : request;

/**
 * A publish outside the device's own topics is dropped. MQTT 5 closes the connection
 * with 0x87. MQTT 3.1.1 has no way to refuse a PUBLISH: the connection stays, and a
 * QoS 1 publish is acknowledged anyway, else the client would retransmit it forever.
 */
const denyPublish = (session: HandlerSession, packet: IPublishPacket): void => {
  session.warnOnce(
    "denied-publish",
    { topic: packet.topic },
    "publish outside the device's topics",
  );
  if (session.protocolVersion === 5) {
    session.close(Reason.notAuthorized, `not authorized to publish to ${packet.topic}`);
  } else if (packet.qos === 1) {
    session.send({ cmd: "puback", messageId: packet.messageId ?? 0 });
  }
};

import { subscribeVerdictOf } from "@umbra/dialects";
import type { ISubscribePacket } from "mqtt-packet";
import { Reason, SUBACK_FAILURE } from "../codes.js";
import { mayUseDevice } from "../gateway.js";
import type { HandlerSession } from "../handlerSession.js";
import { isValidTopicFilter, longerThanBytes } from "../topics.js";

/**
 * Every grant is QoS 0 whatever the dialect would allow: the edge sends devices QoS 0
 * only (MQTT lets a server grant less than asked).
 */
const GRANTED_QOS = 0;

/** SUBSCRIBE: each filter is granted QoS 0 or refused on its own; one SUBACK answers. */
export const handleSubscribe = (session: HandlerSession, packet: ISubscribePacket): void => {
  if (packet.subscriptions.length === 0) {
    session.close(Reason.protocolError, "SUBSCRIBE without a topic filter");
    return;
  }
  // CONNACK said Subscription Identifiers are not available (MQTT 5 §3.8.2.1.2).
  if (packet.properties?.subscriptionIdentifier !== undefined) {
    session.close(
      Reason.subscriptionIdentifiersNotSupported,
      "subscription identifiers are not supported",
    );
    return;
  }
  const granted = packet.subscriptions.map((subscription) =>
    grant(session, subscription.topic, subscription.qos),
  );
  session.send({ cmd: "suback", messageId: packet.messageId ?? 0, granted });
  const filters = packet.subscriptions
    .filter((_, i) => granted[i] === GRANTED_QOS)
    .map((subscription) => subscription.topic);
  if (filters.length > 0) session.context.backend.subscribed?.(session, filters);
};

/**
 * The topic ACL of SUBSCRIBE: the dialect whose form the filter has decides, for the
 * device's own topics or a sub-device's its gateway acts for. A refusal is a SUBACK
 * code, never a disconnect (the Alibaba SDK subscribes 15 filters Umbra does not serve
 * on every connect).
 */
export const mayHoldFilter = (
  session: HandlerSession,
  filter: string,
  qos: 0 | 1 | 2 = 0,
): boolean =>
  subscribeVerdictOf(filter, qos, (device) => mayUseDevice(session, device)) !== SUBACK_FAILURE;

const grant = (session: HandlerSession, filter: string, qos: 0 | 1 | 2): number => {
  const v5 = session.protocolVersion === 5;
  const { maxTopicBytes, maxSubscriptions } = session.context.limits;
  if (longerThanBytes(filter, maxTopicBytes)) {
    session.warnOnce("subscription-limit", { maxTopicBytes }, "topic filter too long");
    return v5 ? Reason.topicFilterInvalid : SUBACK_FAILURE;
  }
  if (!isValidTopicFilter(filter)) return v5 ? Reason.topicFilterInvalid : SUBACK_FAILURE;
  if (v5 && filter.startsWith("$share/")) return Reason.sharedSubscriptionsNotSupported;
  if (!mayHoldFilter(session, filter, qos)) {
    session.warnOnce("denied-subscribe", { filter }, "subscription outside the device's topics");
    return v5 ? Reason.notAuthorized : SUBACK_FAILURE;
  }
  // A filter already held is replaced, not added: it does not count against the bound.
  if (session.subscriptions.size >= maxSubscriptions && !session.subscriptions.has(filter)) {
    session.warnOnce("subscription-limit", { maxSubscriptions }, "too many subscriptions");
    return v5 ? Reason.quotaExceeded : SUBACK_FAILURE;
  }
  session.subscriptions.add(filter);
  return GRANTED_QOS;
};

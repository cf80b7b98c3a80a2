import type { AuthRefusal } from "./backend.js";

/** The MQTT 5 reason codes the edge sends (MQTT 5 §2.4). */
export const Reason = {
  success: 0x00,
  noSubscriptionExisted: 0x11,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  implementationSpecificError: 0x83,
  unsupportedProtocolVersion: 0x84,
  clientIdentifierNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  serverShuttingDown: 0x8b,
  badAuthenticationMethod: 0x8c,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  qosNotSupported: 0x9b,
  sharedSubscriptionsNotSupported: 0x9e,
  connectionRateExceeded: 0x9f,
  subscriptionIdentifiersNotSupported: 0xa1,
} as const;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const ConnectReturnCode = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** MQTT 3.1.1 SUBACK "Failure" (§3.9.3). */
export const SUBACK_FAILURE = 0x80;

/** How each authentication refusal is spelled in a CONNACK, per protocol. */
export const REFUSAL_CODES: Readonly<
  Record<AuthRefusal, { readonly v3: number; readonly v5: number }>
> = {
  "bad-credentials": {
    v3: ConnectReturnCode.badUserNameOrPassword,
    v5: Reason.badUserNameOrPassword,
  },
  "not-authorized": { v3: ConnectReturnCode.notAuthorized, v5: Reason.notAuthorized },
  "bad-client-id": {
    v3: ConnectReturnCode.identifierRejected,
    v5: Reason.clientIdentifierNotValid,
  },
  unavailable: { v3: ConnectReturnCode.serverUnavailable, v5: Reason.serverUnavailable },
};

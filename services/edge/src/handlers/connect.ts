import type { IConnectPacket, Packet } from "mqtt-packet";
import type { AuthRefusal, AuthResult } from "../backend.js";
import { ConnectReturnCode, REFUSAL_CODES, Reason } from "../codes.js";
import { bodyOffset, packetType } from "../framing.js";
// Aliased so that this file's signatures stay as they were (a concurrent change edits it).
import type { ProtocolVersion, HandlerSession as Session } from "../handlerSession.js";
import { clientCertificate } from "../tlsListener.js";

const CONNECT = 1;

/**
 * Looks at the first packet before mqtt-packet parses it: it must be a CONNECT of a
 * protocol level the edge speaks. mqtt-packet meets an unknown level with a bare parse
 * error, which would leave the client without the CONNACK refusal MQTT asks for.
 * Returns false when the connection was ended.
 */
export const screenConnect = (session: Session, packet: Buffer): boolean => {
  if (packetType(packet.readUInt8(0)) !== CONNECT) {
    session.end("first packet is not CONNECT");
    return false;
  }
  const nameAt = bodyOffset(packet) + 2;
  const levelAt = nameAt + (nameAt <= packet.length ? packet.readUInt16BE(nameAt - 2) : 0);
  if (levelAt >= packet.length) {
    session.end("malformed CONNECT");
    return false;
  }
  const name = packet.toString("latin1", nameAt, levelAt);
  if (name !== "MQTT" && name !== "MQIsdp") {
    session.end(`unknown protocol name ${JSON.stringify(name)}`);
    return false;
  }
  const level = packet.readUInt8(levelAt);
  if (level === 3 || level === 4 || level === 5) {
    // Known from here: a malformed MQTT 5 CONNECT is answered with CONNACK 0x81/0x82.
    session.setProtocolVersion(level);
    return true;
  }
  // A level above 5 is a newer client: refuse in the MQTT 5 format (0x84). Anything
  // else gets the 3.1.1 format (return code 1), which every older client reads.
  if ((level & 0x7f) > 5) {
    session.setProtocolVersion(5);
    session.refuse(
      { cmd: "connack", sessionPresent: false, reasonCode: Reason.unsupportedProtocolVersion },
      `unsupported protocol level ${level}`,
    );
  } else {
    session.refuse(
      {
        cmd: "connack",
        sessionPresent: false,
        returnCode: ConnectReturnCode.unacceptableProtocolVersion,
      },
      `unsupported protocol level ${level}`,
    );
  }
  return false;
};

/**
 * CONNECT: settle the protocol version, then let the backend authenticate the device
 * while reading waits, so nothing sent behind CONNECT is handled before CONNACK.
 * Wills are accepted and never published: the edge does not support them.
 */
export const handleConnect = (session: Session, packet: IConnectPacket): void => {
  if (session.state !== "awaiting-connect") {
    session.close(Reason.protocolError, "second CONNECT");
    return;
  }
  const version: ProtocolVersion = packet.protocolVersion ?? 4;
  session.setProtocolVersion(version);
  if (version === 5) {
    const clientMax = packet.properties?.maximumPacketSize;
    if (clientMax !== undefined) session.clientMaxPacketBytes = clientMax;
    if (packet.properties?.authenticationMethod !== undefined) {
      refuse(session, Reason.badAuthenticationMethod, 0, "enhanced authentication unsupported");
      return;
    }
  }
  // Devices are known by their client id; the server never assigns one.
  if (packet.clientId.length === 0) {
    refuseFor(session, "bad-client-id", "empty client id");
    return;
  }
  const { authThrottle, metrics, limits } = session.context;
  // 3.1.1 has no expiry: a clean=false session is kept as long as the edge keeps any.
  // MQTT 5 keeps a session after the connection only for a Session Expiry Interval.
  const asked =
    version === 5
      ? (packet.properties?.sessionExpiryInterval ?? 0)
      : packet.clean === false
        ? limits.sessionExpirySeconds
        : 0;
  const address = session.socket.remoteAddress ?? "";
  if (authThrottle.addressBlocked(address)) {
    metrics.authThrottledAddress.value++;
    refuse(
      session,
      Reason.connectionRateExceeded,
      ConnectReturnCode.notAuthorized,
      "too many failed authentications from this address",
    );
    return;
  }
  session.beginAuthentication(packet.keepalive ?? 0, packet.clean ?? true, {
    asked,
    granted: Math.min(asked, session.context.limits.sessionExpirySeconds),
  });
  let result: Promise<AuthResult>;
  try {
    result = session.context.backend.authenticate({
      clientId: packet.clientId,
      username: packet.username,
      password: packet.password,
      certificate: clientCertificate(session.socket),
    });
  } catch (error) {
    result = Promise.reject(error);
  }
  const clientId = packet.clientId;
  result.then(
    (outcome) => settleAuthentication(session, outcome, clientId, address),
    (error: unknown) => {
      session.log.warn({ err: error }, "backend.authenticate failed");
      refuseFor(session, "unavailable", "authentication failed");
    },
  );
};

const settleAuthentication = (
  session: Session,
  outcome: AuthResult,
  clientId: string,
  address: string,
): void => {
  if (session.state !== "authenticating") return; // the client left, or timed out
  if (outcome.ok) {
    // PUBLISH counters by the dialect the device connected in (certificates name none).
    if (outcome.dialect !== undefined)
      session.traffic = session.context.metrics.traffic(outcome.dialect);
    session.dialect = outcome.dialect;
    session.modelId = outcome.modelId;
    session.accept(outcome.device, (sessionPresent) => acceptingConnack(session, sessionPresent));
    session.log.debug("connected");
    return;
  }
  // An unreachable registry is not the client's failure.
  const delayMs =
    outcome.refusal === "unavailable" ? 0 : session.context.authThrottle.failed(clientId, address);
  if (delayMs === 0) {
    refuseFor(session, outcome.refusal, outcome.detail);
    return;
  }
  // Reading stays held; the connect timeout may answer first (server unavailable).
  session.context.metrics.authDelayedClientId.value++;
  setTimeout(refuseLate, delayMs, session, outcome).unref();
};

const refuseLate = (session: Session, outcome: AuthResult & { ok: false }): void => {
  if (session.state !== "authenticating") return;
  refuseFor(session, outcome.refusal, `${outcome.detail} (answered late: repeated failures)`);
};

const acceptingConnack = (session: Session, sessionPresent: boolean): Packet => {
  // MQTT 3.1's CONNACK has no Session Present flag (the byte is reserved); the session
  // is resumed all the same.
  if (session.protocolVersion !== 5)
    return {
      cmd: "connack",
      sessionPresent: sessionPresent && session.protocolVersion === 4,
      returnCode: ConnectReturnCode.accepted,
    };
  const { maxPacketBytes, maxInflight } = session.context.limits;
  const { sessionExpiryAsked, sessionExpirySeconds } = session;
  return {
    cmd: "connack",
    sessionPresent,
    reasonCode: Reason.success,
    properties: {
      // Said only when it is not what the client asked for (MQTT 5 §3.2.2.3.2).
      ...(sessionExpirySeconds !== sessionExpiryAsked && {
        sessionExpiryInterval: sessionExpirySeconds,
      }),
      maximumPacketSize: maxPacketBytes,
      receiveMaximum: maxInflight,
      topicAliasMaximum: 0,
      retainAvailable: false,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: false,
      maximumQoS: 1,
    },
  };
};

const refuseFor = (session: Session, refusal: AuthRefusal, detail: string): void => {
  const codes = REFUSAL_CODES[refusal];
  refuse(session, codes.v5, codes.v3, `${refusal}: ${detail}`);
};

const refuse = (session: Session, v5Code: number, v3Code: number, why: string): void => {
  session.log.debug({ why }, "connection refused");
  session.refuse(
    session.protocolVersion === 5
      ? { cmd: "connack", sessionPresent: false, reasonCode: v5Code }
      : { cmd: "connack", sessionPresent: false, returnCode: v3Code },
    why,
  );
};

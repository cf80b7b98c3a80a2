import type { ShadowDocument, ShadowError } from "@umbra/core";
import type { DeviceId } from "./device.js";

/**
 * The contract every dialect folder (`src/{onenet,aliyun,aws,azure}/`) exports, so that
 * the edge, shard and reply services can dispatch on it without knowing the dialect.
 * A sketch: Alibaba implements it first; OneNET moves into this shape in a later step.
 * Everything here is pure (no I/O): key look-ups and clocks are the caller's.
 */
export interface Dialect<Credentials, Request, Code> {
  readonly name: string;
  /**
   * Reads a CONNECT's client id and username (the part after the first `?` is
   * metadata) into this dialect's credentials, a refusal, or `undefined` when the
   * CONNECT is not in this dialect's form (the next dialect is asked).
   */
  recognise(clientId: string, username: string): Credentials | AuthRefusal | undefined;
  /** The device those credentials claim to be, to look its key up. */
  claimedIdentity(credentials: Credentials): DeviceId;
  /** Checks the password against the device key, in constant time. */
  authenticate(credentials: Credentials, password: Uint8Array, deviceKey: string): AuthResult;
  /** A topic the device published to, read once into a request; `undefined` if not ours. */
  parseTopic(topic: string): Request | undefined;
  /** Whether an authenticated device may publish to `topic`. */
  mayPublish(identity: DeviceId, topic: string): boolean;
  /** SUBACK verdict for one filter: granted QoS, or 0x80 (never a disconnect). */
  subscribeVerdict(identity: DeviceId, filter: string, requestedQos: 0 | 1 | 2): SubscribeVerdict;
  /** Maps an engine error onto the dialect's code. */
  errorCode(error: ShadowError): Code;
  /** Renders the answer to a refused request. */
  renderError(code: Code, timestampMs: number): unknown;
  /** Renders the document pushed to a device when its desired state changes. */
  renderControl(doc: ShadowDocument, timestampMs: number): unknown;
}

export interface AuthRefusal {
  readonly ok: false;
  /** Why, for the log line (never sent to the device: the CONNACK code says enough). */
  readonly reason: string;
}

export type AuthResult = { readonly ok: true; readonly identity: DeviceId } | AuthRefusal;

/** 0x80 is MQTT 3.1.1's SUBACK failure code. */
export type SubscribeVerdict = 0 | 1 | 2 | 0x80;

export const SUBACK_FAILURE = 0x80;

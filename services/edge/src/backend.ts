import type { DeviceId, DialectName, TopicRequest } from "@umbra/dialects";

/**
 * What the MQTT protocol layer needs from the rest of the cluster. The edge server
 * (sessions, packets, ACLs) knows nothing about NATS; `natsBackend.ts` implements this
 * over the bus, tests may implement it over anything.
 */

/** One live, authenticated MQTT connection. */
export interface DeviceSession {
  /** Unique per connection (a reconnect is a new session). */
  readonly id: string;
  readonly device: DeviceId;
  /** `{pid}/{dn}` */
  readonly deviceKey: string;
  /**
   * Sends a QoS 0 PUBLISH if the session has a subscription matching `topic`.
   * Returns false when nothing was sent (not subscribed, closed, or dropped because
   * the device reads too slowly).
   */
  deliver(topic: string, payload: Uint8Array): boolean;
  /** Ends the session from the server side (MQTT 5: DISCONNECT with `reasonCode`). */
  close(reasonCode: number, why: string): void;
  /** The fingerprint of the client certificate the session presented (TLS), if any. */
  readonly certificateFingerprint?: string | undefined;
  /** The dialect whose CONNECT form the device authenticated in (`AuthResult.dialect`). */
  readonly dialect?: DialectName | undefined;
  /** The Plug and Play model id the CONNECT announced (`AuthResult.modelId`). */
  readonly modelId?: string | undefined;
}

export type AuthRefusal =
  /** username/password wrong: 3.1.1 return code 4, MQTT 5 reason 0x86 */
  | "bad-credentials"
  /** the device is not allowed in: 3.1.1 return code 5, MQTT 5 reason 0x87 */
  | "not-authorized"
  /** client id unusable: 3.1.1 return code 2, MQTT 5 reason 0x85 */
  | "bad-client-id"
  /** the registry cannot be reached: 3.1.1 return code 3, MQTT 5 reason 0x88 */
  | "unavailable";

export type AuthResult =
  /**
   * `dialect`: the CONNECT form it authenticated in (a certificate with a username in no
   * dialect's form names none). `modelId`: the Plug and Play model the device announced
   * (Azure `&model-id=dtmi:…`), sent to its shard once the session is open.
   */
  | {
      readonly ok: true;
      readonly device: DeviceId;
      readonly dialect?: DialectName | undefined;
      readonly modelId?: string | undefined;
    }
  | { readonly ok: false; readonly refusal: AuthRefusal; readonly detail: string };

/** The certificate a client presented in the TLS handshake (MQTTS listener). */
export interface ClientCertificate {
  /** SHA-256 of the DER bytes, 64 lowercase hex digits. */
  readonly fingerprint: string;
  /** Subject CN and O (a CA-signed device certificate: device name, product id). */
  readonly commonName: string | undefined;
  readonly organization: string | undefined;
  /** It chains to a CA the listener trusts for clients (Umbra's CA, MQTT_TLS_CA). */
  readonly chainTrusted: boolean;
  /** Validity, ms since the epoch (checked for registered certificates; TLS checks CA-signed ones). */
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface ConnectCredentials {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  /** Over TLS, when the client presented a certificate. */
  readonly certificate?: ClientCertificate | undefined;
}

export interface EdgeBackend {
  authenticate(credentials: ConnectCredentials): Promise<AuthResult>;
  /**
   * A session is established (CONNACK sent). Older sessions of the device must close; a
   * model id the CONNECT announced (`session.modelId`) goes to the device's shard.
   */
  opened(session: DeviceSession): void;
  /** A session ended, for whatever reason. */
  closed(session: DeviceSession): void;
  /**
   * Whether the session may publish and subscribe on `device`'s topics besides its own:
   * a gateway acts for its registered sub-devices (seed 003).
   */
  actsFor?(session: DeviceSession, device: DeviceId): boolean;
  /** After SUBACK: the filters the session was just granted. */
  subscribed?(session: DeviceSession, filters: readonly string[]): void;
  /**
   * A PUBLISH that passed the ACL, its topic read once. QoS 0: returns undefined. QoS 1:
   * resolves true once the cluster processed it durably (then, and only then, PUBACK),
   * false when it gave up waiting (no PUBACK, and the session is closed: the device
   * reconnects and retransmits with DUP).
   */
  publish(session: DeviceSession, message: DevicePublish): Promise<boolean> | undefined;
}

/** One PUBLISH from a device, as the backend gets it. */
export interface DevicePublish {
  readonly request: TopicRequest;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  /** QoS 1 only. */
  readonly packetId: number | undefined;
  readonly dup: boolean;
}

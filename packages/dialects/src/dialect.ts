import type {
  JsonValue,
  Limits,
  Result,
  ShadowDocument,
  ShadowError,
  UpdateRequest,
} from "@umbra/core";
import type { DeviceId } from "./device.js";
import type { DialectName, OutboundText, ShadowEvent } from "./events.js";
import type { RepliedCall } from "./onenet/gateway.js";

/**
 * The contract every dialect folder (`src/{onenet,aliyun,aws,azure}/`) exports, and the
 * only thing the edge, shard and reply services know of a dialect: they dispatch through
 * the registry (`registry.ts`), so adding a dialect is a folder and a line there.
 * Everything is pure: key look-ups, clocks and I/O are the caller's.
 *
 *   edge:  recognise (CONNECT) → Claim.verify · parseTopic (PUBLISH, once) · subscribeVerdict
 *   shard: readCommand (payload → engine request)
 *   reply: renderAnswer (the device's own request) · renderPush (a change made by others)
 */
export interface DeviceDialect {
  readonly name: DialectName;
  /**
   * Reads a CONNECT's client id and username (the part after the first `?` is metadata)
   * into a claim, a refusal, or `undefined` when the CONNECT is not in this dialect's
   * form (the next dialect is asked).
   */
  recognise(clientId: string, username: string): Claim | AuthRefusal | undefined;
  /**
   * A topic a device published to, read once: the device it is about and what it asks.
   * `undefined` when the topic is not this dialect's or not one a device may publish to.
   */
  parseTopic(topic: string): TopicRequest | undefined;
  /**
   * SUBACK verdict for one filter, `undefined` when the filter is not this dialect's
   * form. `mayUse` says whether the session may use a device's topics (its own, or a
   * sub-device's its gateway acts for). A refusal is 0x80, never a disconnect.
   */
  subscribeVerdict(
    filter: string,
    requestedQos: 0 | 1 | 2,
    mayUse: (device: DeviceId) => boolean,
  ): SubscribeVerdict | undefined;
  /**
   * Whether a device that was just granted `filters` should be sent a `sync` command:
   * OneNET sends a queued function call's delta; AWS answers nothing but tells the
   * device's actor that an AWS session listens (its events then carry the documents
   * `update/documents` needs).
   */
  syncOnSubscribe?(device: DeviceId, filters: readonly string[]): boolean;
  /**
   * What the `sync` command carries to the shard (empty when absent): AWS says whether the
   * filters can receive `update/documents`, which decides what the actor's events carry.
   */
  syncPayload?(device: DeviceId, filters: readonly string[]): Uint8Array;
  /**
   * The shard: a device's payload for `op` read into what the engine runs. `token`: the
   * command's topic token (`TopicRequest.token`), for a dialect whose topic carries one.
   */
  readCommand(
    op: DeviceOp,
    payload: Uint8Array,
    limits: Limits,
    token?: string,
  ): Result<DeviceCommand, CommandRefusal>;
  /**
   * The reply: messages answering the device's own request (`event.source === "device"`).
   * `nowMs` stamps answers whose event carries no time (refusals).
   */
  renderAnswer(
    event: ShadowEvent,
    device: DeviceId,
    out: OutboundText[],
    json: EventJson,
    nowMs: number,
  ): void;
  /**
   * The reply: messages telling a device of this dialect about a change someone else made
   * (the cloud, another dialect). Rendered for every dialect; the edge delivers only
   * what the device's session subscribed to.
   */
  renderPush(
    event: ShadowEvent,
    device: DeviceId,
    out: OutboundText[],
    json: EventJson,
    nowMs: number,
  ): void;
}

/** A CONNECT's claim: who the device says it is, and how to check what it presents. */
export interface Claim {
  readonly ok: true;
  readonly dialect: DialectName;
  readonly identity: DeviceId;
  /**
   * A Plug and Play model id the device announced (Azure `&model-id=dtmi:…` in the
   * username): the edge sends it to the shard once connected, to become the twin's
   * `$model`.
   */
  readonly modelId?: string | undefined;
  /** Checks the password against the device key (constant time): a problem, or `undefined`. */
  verify(password: Uint8Array, deviceKey: string, nowMs: number): string | undefined;
}

export interface AuthRefusal {
  readonly ok: false;
  /** Why, for the log line (never sent to the device: the CONNACK code says enough). */
  readonly reason: string;
  /** The client id itself is unusable (CONNACK 2 / 0x85) rather than the credentials. */
  readonly badClientId?: boolean;
}

export type AuthResult = { readonly ok: true; readonly identity: DeviceId } | AuthRefusal;

/**
 * A dialect's recognised credentials as a `Claim` whose `verify` runs the dialect's
 * password check; a refusal or "not my form" passes through.
 */
export const claimOf = <C extends { readonly identity: DeviceId }>(
  dialect: DialectName,
  credentials: C | AuthRefusal | undefined,
  check: (credentials: C, password: Uint8Array, deviceKey: string, nowMs: number) => AuthResult,
): Claim | AuthRefusal | undefined => {
  if (credentials === undefined || "ok" in credentials) return credentials;
  return {
    ok: true,
    dialect,
    identity: credentials.identity,
    verify: (password, key, nowMs) => {
      const result = check(credentials, password, key, nowMs);
      return result.ok ? undefined : result.reason;
    },
  };
};

/**
 * Operations a device's topic can carry to the shard. `delete`: an AWS device deleting
 * its shadow (`…/shadow/delete`); the shard runs it as the cloud's delete, except that a
 * device's payload names no version (AWS v1 sends one there, to be ignored).
 */
export type DeviceOp = "update" | "get" | "request" | "delete";

/** What publishing on a topic asks, read once by the edge. */
export type TopicRequest =
  /** A shadow request: a command to the device's shard. */
  | {
      readonly kind: "command";
      readonly dialect: DialectName;
      readonly device: DeviceId;
      readonly op: DeviceOp;
      /**
       * A named shadow beside the device's classic one (AWS
       * `$aws/things/{thing}/shadow/name/{shadow}/…`); `undefined`: the classic shadow.
       */
      readonly shadow?: string | undefined;
      /**
       * A correlation token the topic carries (Azure `$rid`; a method result's
       * `{status}/{rid}`), which travels in the command header (`CommandHeader.token`)
       * to the dialect's `readCommand` and onto the events, whose answers echo it.
       */
      readonly token?: string | undefined;
    }
  /**
   * Telemetry (Azure `devices/{id}/messages/events/{bag}`): not a shadow request; the
   * edge publishes it to the application event stream with its property bag.
   */
  | {
      readonly kind: "telemetry";
      readonly device: DeviceId;
      readonly properties: { readonly [key: string]: string };
    }
  /**
   * A OneNET thing-model upload the edge handles itself (issue 18): `event/post` and
   * `history/post` write no shadow (their values go to the application event stream),
   * and `pack/post` names several devices, each with its own actor, so the edge reads it
   * and sends one command per device. `device` is the topic's (the publisher's).
   */
  | {
      readonly kind: "thing-upload";
      readonly device: DeviceId;
      readonly upload: "event/post" | "pack/post" | "history/post";
    }
  /**
   * A device answering a call the cloud made: a gateway's call for a sub-device (OneNET
   * seed 003, `call` its kind) or a call to the device itself (thing model, `{direct}`).
   */
  | { readonly kind: "gateway-reply"; readonly device: DeviceId; readonly call: RepliedCall }
  /** One of the device's own topics that asks nothing of the shadow. */
  | { readonly kind: "none"; readonly device: DeviceId };

/**
 * A device request as the engine runs it. `clientToken`: the request's correlation
 * token (AWS), which every answer to it echoes; the shard copies it onto the event.
 */
export type DeviceCommand =
  | {
      readonly op: "get";
      readonly clientToken?: string | undefined;
      /**
       * The properties the read asks for (OneNET `property/desired/get`), carried on the
       * document event for the dialect's answer; `undefined`: the whole document.
       */
      readonly select?: readonly string[] | undefined;
    }
  /**
   * A device deleting its shadow (AWS `…/delete`): run as the cloud's delete but with no
   * expected version (a `version` in the payload is ignored: AWS v1 sends one).
   */
  | { readonly op: "delete"; readonly clientToken?: string | undefined }
  | {
      readonly op: "update";
      readonly update: UpdateRequest;
      readonly clientToken?: string | undefined;
      /**
       * A report in the Plug and Play convention (Azure): writable-property acks
       * `{"value","ac","av","ad"}` go to the twin's `$metadata` even before the shadow
       * has a digital twin, and the write keeps the section versions (`sectionVersionsOf`).
       */
      readonly twin?: true | undefined;
    }
  /**
   * A device's answer to a function call it was sent as a request of its own (Azure's
   * direct method result): settles the pending call `answers` recognises by its request
   * id, as a `reported._function_result` would. `clientToken`: the request's token.
   */
  /**
   * A write built from the document the actor holds, so nothing comes in between (OneNET
   * `property/desired/delete`, which clears a property only at the version the device
   * names). `undefined` from `updateFrom`: nothing to write, answered as a read.
   */
  | {
      readonly op: "derived";
      readonly updateFrom: (doc: ShadowDocument) => UpdateRequest | undefined;
      readonly clientToken?: string | undefined;
    }
  | {
      readonly op: "result";
      readonly answers: (requestId: string) => boolean;
      readonly status: "completed" | "failed";
      readonly result: JsonValue;
      readonly clientToken?: string | undefined;
    };

/**
 * A request refused before the engine: the error, the dialect's own code if it has one,
 * and the correlation token when the reader got that far (AWS echoes it on rejections).
 */
export interface CommandRefusal {
  readonly error: ShadowError;
  readonly code?: number | undefined;
  readonly clientToken?: string | undefined;
}

/**
 * JSON the reply service encodes once per accepted event and every renderer may reuse:
 * `applied` (the state a write applied) and the OneNET delta message, which application
 * events carry too.
 */
export interface EventJson {
  readonly applied: string | undefined;
  readonly delta: string | undefined;
}

/** 0x80 is MQTT 3.1.1's SUBACK failure code. */
export type SubscribeVerdict = 0 | 1 | 2 | 0x80;

export const SUBACK_FAILURE = 0x80;

import { createHmac, timingSafeEqual } from "node:crypto";
import { type DeviceId, nameProblem, usernameIdentity } from "../device.js";
import type { AuthRefusal, AuthResult } from "../dialect.js";

/**
 * Alibaba "sign" authentication as `alibabacloud-iot-device-sdk` 1.2.8 computes it
 * (DIALECTS.md §3.5): client id `{id}|securemode=…,signmethod=…,timestamp=…[,…]|`,
 * username `{deviceName}&{productKey}`, password = lowercase hex HMAC over
 * `clientId{id}deviceName{dn}productKey{pk}timestamp{ts}` keyed with the device key string.
 */
export interface AliyunCredentials {
  readonly identity: DeviceId;
  /** The short id before the first `|` (`{pk}&{dn}` by default), part of the signed text. */
  readonly id: string;
  readonly timestamp: string;
  readonly signmethod: AliyunSignMethod;
}

/**
 * Sign methods accepted. The SDK's `hmacSign(type, …)` ignores `type` and always
 * signs with SHA-1, so a device configured with `signAlgorithm: 'sha256'` says
 * `hmacsha256` and sends an HMAC-SHA1: both labels are verified with SHA-1, which is
 * what the SDK really sends. `hmacmd5` and the platform's real SHA-256 form are
 * refused: no documented client sends them to us.
 */
const SIGN_METHODS = ["hmacsha1", "hmacsha256"] as const;
export type AliyunSignMethod = (typeof SIGN_METHODS)[number];

/** securemode 2 = TLS, 3 = plain TCP: the only two the SDK sends. */
const SECURE_MODES = ["2", "3"];

/** Up to 16 digits: `Date.now()` in ms has 13; the bound keeps the signed text small. */
const TIMESTAMP = /^[0-9]{1,16}$/;

const refuse = (reason: string): AuthRefusal => ({ ok: false, reason });

/**
 * Reads a CONNECT in Alibaba's form. `undefined` when the client id is not in that
 * form at all (no `|…|` parameter block), so another dialect can be asked.
 */
export const recogniseAliyun = (
  clientId: string,
  username: string,
): AliyunCredentials | AuthRefusal | undefined => {
  const bar = clientId.indexOf("|");
  if (bar === -1 || clientId.length < bar + 2 || clientId[clientId.length - 1] !== "|")
    return undefined;
  const id = clientId.slice(0, bar);
  if (id.length === 0) return refuse("the client id has no id before '|'");
  const params = new Map<string, string>();
  for (const pair of clientId.slice(bar + 1, -1).split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) return refuse(`the client id parameter '${pair}' is not key=value`);
    const key = pair.slice(0, eq);
    if (params.has(key)) return refuse(`the client id repeats '${key}'`);
    params.set(key, pair.slice(eq + 1));
  }
  const securemode = params.get("securemode");
  if (securemode === undefined || !SECURE_MODES.includes(securemode))
    return refuse("securemode must be 2 or 3");
  const signmethod = params.get("signmethod");
  if (!SIGN_METHODS.includes(signmethod as AliyunSignMethod))
    return refuse("signmethod must be hmacsha1 or hmacsha256");
  const timestamp = params.get("timestamp");
  if (timestamp === undefined || !TIMESTAMP.test(timestamp))
    return refuse("timestamp must be decimal digits");
  const user = usernameIdentity(username);
  const amp = user.indexOf("&");
  if (amp === -1 || user.indexOf("&", amp + 1) !== -1)
    return refuse("the username must be {deviceName}&{productKey}");
  const deviceName = user.slice(0, amp);
  const productId = user.slice(amp + 1);
  const problem = nameProblem("deviceName", deviceName) ?? nameProblem("productKey", productId);
  if (problem !== undefined) return refuse(problem);
  return {
    identity: { productId, deviceName },
    id,
    timestamp,
    signmethod: signmethod as AliyunSignMethod,
  };
};

/** The text the SDK signs: the parameters in name order, `clientId` being the short id. */
export const aliyunSignContent = (c: AliyunCredentials): string =>
  `clientId${c.id}deviceName${c.identity.deviceName}productKey${c.identity.productId}timestamp${c.timestamp}`;

/** The password the SDK sends for these credentials and device key (always HMAC-SHA1). */
export const aliyunSign = (c: AliyunCredentials, deviceKey: string): string =>
  createHmac("sha1", deviceKey).update(aliyunSignContent(c)).digest("hex");

/** Verifies the password in constant time (the length, 40 hex digits, is no secret). */
export const authenticateAliyun = (
  credentials: AliyunCredentials,
  password: Uint8Array,
  deviceKey: string,
): AuthResult => {
  const expected = Buffer.from(aliyunSign(credentials, deviceKey), "latin1");
  if (password.byteLength !== expected.byteLength || !timingSafeEqual(password, expected))
    return refuse("the sign does not match the device key");
  return { ok: true, identity: credentials.identity };
};

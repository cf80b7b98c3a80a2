import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { DeviceId } from "../device.js";

/**
 * OneNET device token (SPEC §2.1): the MQTT password
 * `version=2018-10-31&res=products/{pid}/devices/{dn}&et={unix}&method={md5|sha1|sha256}&sign={…}`,
 * sign = base64(HMAC-method(base64decode(device key), et \n method \n res \n version)),
 * every value URL-encoded.
 */
export const ONENET_TOKEN_VERSION = "2018-10-31";

export type TokenMethod = "md5" | "sha1" | "sha256";
const METHODS: ReadonlySet<string> = new Set(["md5", "sha1", "sha256"]);

export const oneNetResource = (device: DeviceId): string =>
  `products/${device.productId}/devices/${device.deviceName}`;

const signature = (
  key: Buffer,
  et: string,
  method: TokenMethod,
  res: string,
  version: string,
): Buffer => createHmac(method, key).update(`${et}\n${method}\n${res}\n${version}`).digest();

export interface TokenOptions {
  /** Base64 device key. */
  readonly key: string;
  /** Expiry, unix seconds. */
  readonly expiresAt: number;
  readonly method?: TokenMethod;
}

export const signOneNetToken = (device: DeviceId, options: TokenOptions): string => {
  const method = options.method ?? "sha256";
  const res = oneNetResource(device);
  const et = String(options.expiresAt);
  const sign = signature(
    Buffer.from(options.key, "base64"),
    et,
    method,
    res,
    ONENET_TOKEN_VERSION,
  ).toString("base64");
  return [
    `version=${encodeURIComponent(ONENET_TOKEN_VERSION)}`,
    `res=${encodeURIComponent(res)}`,
    `et=${et}`,
    `method=${method}`,
    `sign=${encodeURIComponent(sign)}`,
  ].join("&");
};

/** A fresh random device key, base64 of 32 bytes (what `device add` hands out). */
export const newDeviceKey = (): string => randomBytes(32).toString("base64");

export type TokenProblem =
  | "malformed"
  | "unsupported-version"
  | "wrong-resource"
  | "expired"
  | "bad-signature";

export interface ParsedToken {
  readonly version: string;
  readonly res: string;
  readonly et: string;
  readonly method: TokenMethod;
  readonly sign: Buffer;
}

export const parseOneNetToken = (token: string): ParsedToken | undefined => {
  const fields = new Map<string, string>();
  for (const part of token.split("&")) {
    const eq = part.indexOf("=");
    if (eq <= 0) return undefined;
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      return undefined;
    }
    fields.set(part.slice(0, eq), value);
  }
  const version = fields.get("version");
  const res = fields.get("res");
  const et = fields.get("et");
  const method = fields.get("method");
  const sign = fields.get("sign");
  if (
    version === undefined ||
    res === undefined ||
    et === undefined ||
    !/^\d{1,12}$/.test(et) ||
    method === undefined ||
    !METHODS.has(method) ||
    sign === undefined ||
    sign.length === 0
  )
    return undefined;
  return { version, res, et, method: method as TokenMethod, sign: Buffer.from(sign, "base64") };
};

/**
 * Checks a token presented by `device` against its key at time `nowSeconds`. The
 * comparison of signatures is constant-time.
 */
export const verifyOneNetToken = (
  token: string,
  device: DeviceId,
  key: string,
  nowSeconds: number,
): TokenProblem | undefined => {
  const parsed = parseOneNetToken(token);
  if (parsed === undefined) return "malformed";
  if (parsed.version !== ONENET_TOKEN_VERSION) return "unsupported-version";
  if (parsed.res !== oneNetResource(device)) return "wrong-resource";
  if (Number(parsed.et) < nowSeconds) return "expired";
  const expected = signature(
    Buffer.from(key, "base64"),
    parsed.et,
    parsed.method,
    parsed.res,
    parsed.version,
  );
  if (expected.length !== parsed.sign.length || !timingSafeEqual(expected, parsed.sign))
    return "bad-signature";
  return undefined;
};

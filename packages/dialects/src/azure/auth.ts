import { createHmac, timingSafeEqual } from "node:crypto";
import { type DeviceId, nameProblem, usernameIdentity } from "../device.js";
import type { AuthRefusal, AuthResult } from "../dialect.js";

/**
 * Azure IoT Hub shared-access-signature authentication as `azure-iot-device` sends it
 * (DIALECTS.md §2.5): client id `{deviceId}`, username
 * `{hostName}/{deviceId}/?api-version=…&DeviceClientType=…[&model-id=…]`, password
 * `SharedAccessSignature sr={resource}&sig={signature}&se={expiry}`. Identity mapping:
 * product id = the host name's first DNS label, device name = deviceId, and the
 * device key is the SharedAccessKey.
 */
export interface AzureCredentials {
  readonly identity: DeviceId;
  /** The hub host name from the username: the token's `sr` must name it. */
  readonly hostName: string;
}

/** DNS caps a host name at 253 characters; the bound keeps the expected `sr` small. */
export const MAX_AZURE_HOST_LENGTH = 253;

/**
 * Longest SAS password read. The longest token a valid identity can produce is about
 * 1,100 bytes (an `sr` of 253 + 9 + 64 characters, each encoded as up to three, plus
 * a 44-character signature, encoded, and the expiry); anything longer is refused
 * unread.
 */
export const MAX_AZURE_SAS_LENGTH = 2048;

const SAS_PREFIX = "SharedAccessSignature ";

/** Expiry in epoch seconds; 12 digits reach year 33658 and keep `Number` exact. */
const EXPIRY = /^[0-9]{1,12}$/;

/**
 * Padded standard base64, what `newDeviceKey` hands out and Azure keys are. Node's
 * decoder skips what it cannot read, so a key is checked before it is decoded.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const refuse = (reason: string): AuthRefusal => ({ ok: false, reason });

/**
 * Reads a CONNECT in Azure's form. A username whose part before the first `?` has no
 * `/` is not Azure's (`undefined`: another dialect is asked); no other dialect's
 * username can hold one, since names never contain `/`.
 */
export const recogniseAzure = (
  clientId: string,
  username: string,
): AzureCredentials | AuthRefusal | undefined => {
  const user = usernameIdentity(username);
  const slash = user.indexOf("/");
  if (slash === -1) return undefined;
  // `{host}/{deviceId}/` as the SDK sends it, or without the trailing `/`.
  const rest = user.endsWith("/") ? user.slice(slash + 1, -1) : user.slice(slash + 1);
  if (rest.includes("/") || clientId.includes("/"))
    return refuse("module identities ({deviceId}/{moduleId}) are not supported");
  const hostName = user.slice(0, slash);
  const deviceId = rest;
  const hostProblem = azureHostProblem(hostName);
  if (hostProblem !== undefined) return refuse(hostProblem);
  const dot = hostName.indexOf(".");
  const productId = dot === -1 ? hostName : hostName.slice(0, dot);
  const problem =
    nameProblem("the hub host name's first label (the product id)", productId) ??
    nameProblem("deviceId", deviceId);
  if (problem !== undefined) return refuse(problem);
  if (clientId !== deviceId)
    return refuse(
      `the client id ${JSON.stringify(clientId.slice(0, 80))} is not the username's deviceId`,
    );
  return { identity: { productId, deviceName: deviceId }, hostName };
};

const azureHostProblem = (host: string): string | undefined => {
  if (host.length === 0) return "the username has no hub host name before '/'";
  if (host.length > MAX_AZURE_HOST_LENGTH)
    return `the hub host name is longer than ${MAX_AZURE_HOST_LENGTH} characters`;
  // A port in HostName would end up in the product id; the SDK dials GatewayHostName.
  if (host.includes(":"))
    return "the hub host name carries a port: give the address as GatewayHostName instead";
  if (host.startsWith(".") || host.endsWith(".") || host.includes(".."))
    return "the hub host name has an empty DNS label";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(host))
    return "the hub host name must not contain whitespace or control characters";
  return undefined;
};

/** The resource a device token must name, before URL-encoding. */
export const azureDeviceResource = (hostName: string, deviceId: string): string =>
  `${hostName}/devices/${deviceId}`;

interface SasFields {
  /** As sent (URL-encoded): the signed text starts with it. */
  readonly sr: string;
  /** URL-decoded: base64 of the HMAC. */
  readonly sig: string;
  readonly se: string;
}

const SAS_FIELDS: ReadonlySet<string> = new Set(["sr", "sig", "se", "skn"]);

/** Reads the token's fields (any order) or says why it is not a device SAS. */
const parseSas = (token: string): SasFields | AuthRefusal => {
  if (!token.startsWith(SAS_PREFIX))
    return refuse("the password is not 'SharedAccessSignature sr=…&sig=…&se=…'");
  const fields = new Map<string, string>();
  for (const pair of token.slice(SAS_PREFIX.length).split("&")) {
    const eq = pair.indexOf("=");
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (eq <= 0 || !SAS_FIELDS.has(name))
      return refuse(`the SAS field '${pair.slice(0, 16)}' is not sr, sig, se or skn`);
    if (fields.has(name)) return refuse(`the SAS repeats '${name}'`);
    fields.set(name, pair.slice(eq + 1));
  }
  // skn names a hub shared-access policy: its key is the hub's, not this device's.
  if (fields.has("skn"))
    return refuse("a policy token (skn) is not a device token; sign with the device key");
  const sr = fields.get("sr");
  const sig = fields.get("sig");
  const se = fields.get("se");
  if (sr === undefined || sr.length === 0) return refuse("the SAS has no sr");
  if (sig === undefined || sig.length === 0) return refuse("the SAS has no sig");
  if (se === undefined || !EXPIRY.test(se)) return refuse("the SAS se is not epoch seconds");
  let decodedSig: string;
  try {
    decodedSig = decodeURIComponent(sig);
  } catch {
    return refuse("the SAS sig is not URL-encoded");
  }
  return { sr, sig: decodedSig, se };
};

/** Whether every byte is printable ASCII: a SAS is URL-encoded, so nothing else belongs. */
const printableAscii = (bytes: Uint8Array): boolean => {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
};

/**
 * Verifies a SAS password against the device key at `nowSeconds` (the caller's clock,
 * epoch seconds). The signature is HMAC-SHA256 over `{sr as sent}\n{se}` keyed with the
 * base64-decoded device key, compared in constant time; `sr` must name this hub (host
 * case-insensitive) and device once URL-decoded, and `se` must be in the future.
 */
export const authenticateAzure = (
  credentials: AzureCredentials,
  password: Uint8Array,
  deviceKey: string,
  nowSeconds: number,
): AuthResult => {
  if (password.byteLength > MAX_AZURE_SAS_LENGTH)
    return refuse(`the SAS is longer than ${MAX_AZURE_SAS_LENGTH} bytes`);
  if (!printableAscii(password)) return refuse("the SAS is not printable ASCII");
  const sas = parseSas(Buffer.from(password).toString("latin1"));
  if ("ok" in sas) return sas;
  let resource: string;
  try {
    resource = decodeURIComponent(sas.sr);
  } catch {
    return refuse("the SAS sr is not URL-encoded");
  }
  const { hostName, identity } = credentials;
  const path = `/devices/${identity.deviceName}`;
  if (
    resource.length !== hostName.length + path.length ||
    resource.slice(0, hostName.length).toLowerCase() !== hostName.toLowerCase() ||
    !resource.endsWith(path)
  )
    return refuse(`the SAS sr does not name ${azureDeviceResource(hostName, identity.deviceName)}`);
  if (Number(sas.se) <= nowSeconds) return refuse("the SAS has expired (se is not in the future)");
  if (deviceKey.length === 0 || !BASE64.test(deviceKey))
    return refuse("the device key is not base64, so it cannot be an Azure SharedAccessKey");
  const expected = Buffer.from(
    createHmac("sha256", Buffer.from(deviceKey, "base64"))
      .update(`${sas.sr}\n${sas.se}`)
      .digest("base64"),
    "latin1",
  );
  // UTF-8: a decoded non-ASCII character never equals a base64 character.
  const presented = Buffer.from(sas.sig, "utf8");
  if (presented.byteLength !== expected.byteLength || !timingSafeEqual(presented, expected))
    return refuse("the SAS sig does not match the device key");
  return { ok: true, identity };
};

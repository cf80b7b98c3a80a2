/**
 * Device identity shared by every dialect: a product id and a device name. The device
 * key `{pid}/{dn}` names the shadow everywhere (Redis keys, partitions, NATS subjects).
 */
export interface DeviceId {
  readonly productId: string;
  readonly deviceName: string;
}

/** Longest product id or device name accepted (OneNET allows 64 for device names). */
export const MAX_NAME_LENGTH = 64;

/**
 * Why a product id or device name is unusable, or `undefined`. Names become MQTT topic
 * levels and parts of Redis keys, so topic separators and wildcards, control characters
 * and whitespace are refused; everything else a dialect allows passes.
 */
export const nameProblem = (what: string, name: string): string | undefined => {
  if (name.length === 0) return `${what} is empty`;
  if (name.length > MAX_NAME_LENGTH) return `${what} is longer than ${MAX_NAME_LENGTH} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[/+#\s\u0000-\u001f\u007f{}|]/.test(name))
    return `${what} must not contain '/', '+', '#', '{', '}', '|', whitespace or control characters`;
  return undefined;
};

export const deviceKey = (device: DeviceId): string => `${device.productId}/${device.deviceName}`;

/** Reads `{pid}/{dn}` back into its parts; `undefined` for anything else. */
export const parseDeviceKey = (key: string): DeviceId | undefined => {
  const slash = key.indexOf("/");
  if (slash <= 0 || slash === key.length - 1 || key.indexOf("/", slash + 1) !== -1)
    return undefined;
  return { productId: key.slice(0, slash), deviceName: key.slice(slash + 1) };
};

/**
 * The identity part of an MQTT username: what comes before the first `?`. SDKs append
 * metadata after it (AWS IoT: `?SDK=IoTDeviceSDK/JS&…`, Azure: `?api-version=…`), which
 * every dialect ignores. `undefined` stays `undefined`; `?SDK=…` alone gives "".
 */
export function usernameIdentity(username: string): string;
export function usernameIdentity(username: string | undefined): string | undefined;
export function usernameIdentity(username: string | undefined): string | undefined {
  if (username === undefined) return undefined;
  const query = username.indexOf("?");
  return query === -1 ? username : username.slice(0, query);
}

import { type DeviceId, deviceKey, parseDeviceKey } from "@umbra/dialects";
import type { DeviceRegistry } from "@umbra/store";
import type { AuthResult, ClientCertificate } from "./backend.js";

// The username rule is the dialects'; the edge's callers and tests import it from here too.
export { usernameIdentity } from "@umbra/dialects";

/** What certificate authentication reads of the registry. */
export type CertificateRegistry = Pick<
  DeviceRegistry,
  "certificateOwner" | "get" | "isCertificateRevoked"
>;

/** The certificate settled it: the device it names, or why it is refused. */
export type CertificateOutcome =
  | { readonly ok: true; readonly device: DeviceId }
  | (AuthResult & { readonly ok: false });

const refused = (detail: string): CertificateOutcome => ({
  ok: false,
  refusal: "not-authorized",
  detail,
});

/** Client id and username (when given) must name the certificate's device. */
const matches = (
  device: DeviceId,
  clientId: string,
  product: string | undefined,
  how: string,
): CertificateOutcome => {
  if (clientId !== device.deviceName)
    return refused(
      `client id must be the device name of the ${how} certificate (${device.deviceName})`,
    );
  if (product !== undefined && product !== "" && product !== device.productId)
    return refused(
      `username must be the product id of the ${how} certificate (${device.productId})`,
    );
  return { ok: true, device };
};

/**
 * Authentication by client certificate (mutual TLS), before any password:
 * - a certificate registered to a device (by fingerprint, through the API) is that device,
 *   within its validity dates;
 * - a certificate that chains to a CA the listener trusts (Umbra's, MQTT_TLS_CA) is the
 *   device its subject names, `CN={device name}, O={product id}`, if that device is
 *   registered and the certificate was not revoked;
 * - anything else (self-signed and unregistered, revoked) settles nothing: `undefined`,
 *   and the password decides.
 * A registry that cannot be reached is thrown to the caller.
 */
export const authenticateByCertificate = async (
  registry: CertificateRegistry,
  certificate: ClientCertificate,
  clientId: string,
  product: string | undefined,
  now: number,
): Promise<CertificateOutcome | undefined> => {
  const { fingerprint, commonName, organization } = certificate;
  const owner = await registry.certificateOwner(fingerprint);
  if (owner !== undefined) {
    const device = parseDeviceKey(owner);
    // No CA vouches for a registered certificate's dates: they are checked here.
    if (device !== undefined && (now < certificate.notBefore || now > certificate.notAfter))
      return refused("the registered certificate is not valid now (expired or not yet valid)");
    if (device !== undefined) return matches(device, clientId, product, "registered");
  }
  if (!certificate.chainTrusted || commonName === undefined || organization === undefined)
    return undefined;
  const device: DeviceId = { productId: organization, deviceName: commonName };
  const key = deviceKey(device);
  if ((await registry.get(key)) === undefined)
    return refused(`the certificate names ${key}, which is not registered`);
  if (await registry.isCertificateRevoked(key, fingerprint))
    return refused("the certificate was revoked");
  return matches(device, clientId, product, "CA-signed");
};

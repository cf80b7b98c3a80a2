import { type DeviceId, type DialectName, deviceKey, recogniseConnect } from "@umbra/dialects";
import { messageOf } from "@umbra/runtime";
import type { DeviceRegistry } from "@umbra/store";
import type { AuthResult, ConnectCredentials } from "../backend.js";
import {
  authenticateByCertificate,
  type CertificateOutcome,
  usernameIdentity,
} from "../certificateAuth.js";

/** The registry could not be asked: not the client's failure (CONNACK 3 / 0x88). */
export const unreachable = (e: unknown): AuthResult => ({
  ok: false,
  refusal: "unavailable",
  detail: `device registry unreachable: ${messageOf(e)}`,
});

/**
 * Who a CONNECT is, and whether it may come in: by its client certificate (registered,
 * or CA-signed naming product and device), else by the dialect whose CONNECT form it
 * has, verified against the device's key in the registry. With no registry
 * (authentication off) the dialect's claim is taken as it is.
 */
export const authenticateDevice = async (
  registry: DeviceRegistry | undefined,
  credentials: ConnectCredentials,
  now: () => number,
): Promise<AuthResult> => {
  const { clientId, password, certificate } = credentials;
  // The dialect whose CONNECT form this is says who the device claims to be.
  const claim = recogniseConnect(clientId, credentials.username ?? "");
  // A client certificate (TLS) may settle who the device is, with no password.
  let byCertificate: CertificateOutcome | undefined;
  if (certificate !== undefined && registry !== undefined) {
    try {
      byCertificate = await authenticateByCertificate(
        registry,
        certificate,
        clientId,
        // The product a username names in its dialect's form (Azure: the hub's first
        // label), else the username before `?` as it is.
        claim.ok ? claim.identity.productId : usernameIdentity(credentials.username),
        now(),
      );
    } catch (e) {
      return unreachable(e);
    }
    if (byCertificate !== undefined && !byCertificate.ok)
      // A username no dialect's form accepts (an Azure model id that is no DTMI…): say so,
      // not only that it did not name the certificate's product.
      return claim.ok
        ? byCertificate
        : { ...byCertificate, detail: `${byCertificate.detail}; the username: ${claim.reason}` };
  }
  // X.509: the certificate is the device, which the username's claim named (client id
  // and product were matched), so the claim's dialect and model id are the session's.
  if (byCertificate?.ok === true)
    return claim.ok
      ? { ok: true, device: byCertificate.device, dialect: claim.dialect, modelId: claim.modelId }
      : { ok: true, device: byCertificate.device };
  // A certificate that settled nothing, and no password: the certificate is refused.
  if (
    certificate !== undefined &&
    registry !== undefined &&
    (password === undefined || password.length === 0)
  )
    return {
      ok: false,
      refusal: "not-authorized",
      detail: "client certificate neither registered nor CA-signed, and no password",
    };
  if (!claim.ok)
    return {
      ok: false,
      refusal: claim.badClientId === true ? "bad-client-id" : "bad-credentials",
      detail: claim.reason,
    };
  const device: DeviceId = claim.identity;
  const dialect: DialectName = claim.dialect;
  const { modelId } = claim;
  if (registry === undefined) return { ok: true, device, dialect, modelId };
  if (password === undefined || password.length === 0)
    return { ok: false, refusal: "bad-credentials", detail: "password missing" };
  let record: Awaited<ReturnType<DeviceRegistry["get"]>>;
  try {
    record = await registry.get(deviceKey(device));
  } catch (e) {
    return unreachable(e);
  }
  if (record === undefined)
    return { ok: false, refusal: "not-authorized", detail: "device not registered" };
  const problem = claim.verify(password, record.key, now());
  if (problem !== undefined) return { ok: false, refusal: "bad-credentials", detail: problem };
  return { ok: true, device, dialect, modelId };
};

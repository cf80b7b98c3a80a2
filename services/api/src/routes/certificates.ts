/**
 * Device client certificates (mutual TLS): a device's own certificate registered by its
 * SHA-256 fingerprint lets it connect to the edge's TLS listener without a password.
 * Revoking one closes the sessions that presented it, on whichever edge they are.
 */
import { deviceSubject, encodeTakeover, type NatsConnection } from "@umbra/bus";
import { deviceKey } from "@umbra/dialects";
import type { CertificateRecord, DeviceRegistry } from "@umbra/store";
import {
  certificateRevokedSignal,
  isFingerprint,
  MAX_CERTIFICATE_PEM_BYTES,
  readCertificatePem,
} from "@umbra/tls";
import { Schema } from "effect";
import { fail } from "../problems.js";
import type { Route } from "../routing.js";
import {
  DEVICE,
  JSON_TYPE,
  mustBeRegistered,
  pathDevice,
  problemResponses,
  registeredDevice,
} from "./common.js";

export interface CertificateDependencies {
  readonly registry: DeviceRegistry;
  readonly nc: NatsConnection;
  readonly now: () => number;
}

export const CertificateRequest = Schema.Struct({
  certificatePem: Schema.String.check(
    Schema.isBetweenLength(1, MAX_CERTIFICATE_PEM_BYTES),
  ).annotate({
    description:
      "the device's X.509 certificate, PEM (one CERTIFICATE block; never the private key)",
  }),
}).annotate({ identifier: "CertificateRequest" });

export const Certificate = Schema.Struct({
  fingerprint: Schema.String.annotate({
    description: "SHA-256 of the certificate's DER bytes, 64 lowercase hex digits",
  }),
  subject: Schema.String,
  notAfter: Schema.String.annotate({ description: "end of validity, ISO 8601" }),
  addedAt: Schema.String.annotate({ description: "when it was registered, ISO 8601" }),
}).annotate({ identifier: "DeviceCertificate", description: "A registered client certificate" });

export const CertificateList = Schema.Struct({
  certificates: Schema.Array(Certificate),
}).annotate({ identifier: "DeviceCertificateList" });

const view = (record: CertificateRecord): typeof Certificate.Type => ({
  fingerprint: record.fingerprint,
  subject: record.subject,
  notAfter: new Date(record.notAfter).toISOString(),
  addedAt: new Date(record.addedAt).toISOString(),
});

export const certificateRoutes = (deps: CertificateDependencies): Route[] => {
  const { registry, nc, now } = deps;

  return [
    {
      method: "POST",
      path: `${DEVICE}/certificates`,
      operationId: "addDeviceCertificate",
      summary:
        "Register a device's own client certificate: over TLS it then connects without a password",
      tag: "registry",
      body: { contentType: JSON_TYPE, schema: CertificateRequest },
      responses: {
        201: { description: "registered", schema: Certificate },
        200: { description: "it already was, for this device", schema: Certificate },
        ...problemResponses([400, 404, 409, 415]),
      },
      handle: async (ctx) => {
        const device = pathDevice(ctx);
        const key = deviceKey(device);
        const { certificatePem } = ctx.body as typeof CertificateRequest.Type;
        const info = readCertificatePem(certificatePem);
        if (typeof info === "string") return fail("bad-request", info);
        const at = now();
        if (info.notAfter.getTime() <= at)
          return fail("bad-request", `the certificate expired at ${info.notAfter.toISOString()}`);
        const record: CertificateRecord = {
          fingerprint: info.fingerprint,
          subject: info.subject,
          notAfter: info.notAfter.getTime(),
          addedAt: at,
        };
        const outcome = await registry.addCertificate(key, record);
        switch (outcome) {
          case "missing":
            return mustBeRegistered(registry, device).then(() =>
              fail("unknown-device", `no device '${key}'`),
            );
          case "other-device":
            return fail(
              "conflict",
              `certificate ${info.fingerprint} is registered to another device`,
            );
          case "full":
            return fail(
              "conflict",
              `'${key}' has as many certificates as it may hold; delete one first`,
            );
          case "already": {
            const kept = (await registry.certificates(key)).find(
              (c) => c.fingerprint === info.fingerprint,
            );
            return { status: 200, body: view(kept ?? record) };
          }
          case "added":
            return { status: 201, body: view(record) };
        }
      },
    },
    {
      method: "GET",
      path: `${DEVICE}/certificates`,
      operationId: "listDeviceCertificates",
      summary: "A device's registered client certificates",
      tag: "registry",
      responses: {
        200: { description: "the certificates", schema: CertificateList },
        ...problemResponses([404]),
      },
      handle: async (ctx) => {
        const { key } = await registeredDevice(registry, ctx);
        const certificates = (await registry.certificates(key)).map(view);
        return { status: 200, body: { certificates } };
      },
    },
    {
      method: "DELETE",
      path: `${DEVICE}/certificates/{fingerprint}`,
      operationId: "revokeDeviceCertificate",
      summary:
        "Revoke a device's certificate: it no longer authenticates, and the sessions that presented it are closed",
      tag: "registry",
      responses: { 204: { description: "revoked" }, ...problemResponses([404]) },
      handle: async (ctx) => {
        const device = pathDevice(ctx);
        const key = deviceKey(device);
        // Accepted as the API lists it, or in the AB:CD:… form tools print.
        const fingerprint = (ctx.params.fingerprint as string).replaceAll(":", "").toLowerCase();
        if (
          !isFingerprint(fingerprint) ||
          !(await registry.revokeCertificate(key, fingerprint, now()))
        ) {
          await mustBeRegistered(registry, device);
          return fail(
            "certificate-not-found",
            `'${key}' has no certificate ${ctx.params.fingerprint}`,
          );
        }
        nc.publish(
          deviceSubject(device.productId, device.deviceName),
          encodeTakeover(certificateRevokedSignal(fingerprint)),
        );
        return { status: 204 };
      },
    },
  ];
};

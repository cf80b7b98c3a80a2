import type { Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Logger } from "@umbra/runtime";
import type { ClientCertificate } from "./backend.js";
import type { EdgeMetrics } from "./metrics.js";

/**
 * MQTT over TLS (MQTTS_PORT): the TLS handshake, then the very session code of the plain
 * listener. The listener asks for a client certificate but admits a client without one
 * (`requestCert`, not `rejectUnauthorized`): who the client is gets decided at CONNECT,
 * by the certificate or by the password (backend.authenticate).
 */

/**
 * ALPN ids the listener accepts: AWS IoT SDKs offer `x-amzn-mqtt-ca` (mutual TLS) or
 * `mqtt` (custom authorizers); a client offering neither is refused in the handshake
 * (alert no_application_protocol). A client offering none connects too.
 */
export const MQTT_ALPN_PROTOCOLS: readonly string[] = ["x-amzn-mqtt-ca", "mqtt"];

export interface TlsCredentials {
  /** PEM: the server certificate (with its chain) and key. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /**
   * PEM CAs a client certificate may chain to, to be taken as CA-signed (identity from
   * its subject). Nothing else is trusted for clients: not the public roots.
   */
  readonly ca?: readonly (string | Buffer)[];
}

export interface TlsListenerOptions extends TlsCredentials {
  /**
   * From accept to the end of the handshake, ms. Node applies it while no application
   * data has been read, so a client trickling its ClientHello is cut off at it too.
   */
  readonly handshakeTimeoutMs: number;
}

/** The failure's kind for `umbra_edge_tls_handshake_failures_total{reason}`: a closed set. */
const failureReason = (code: string | undefined): "timeout" | "alpn" | "other" => {
  if (code === "ERR_TLS_HANDSHAKE_TIMEOUT") return "timeout";
  if (code === "ERR_SSL_NO_APPLICATION_PROTOCOL") return "alpn";
  return "other";
};

const secureContextOptions = (credentials: TlsCredentials) => ({
  cert: credentials.cert,
  key: credentials.key,
  ...(credentials.ca === undefined || credentials.ca.length === 0
    ? {}
    : { ca: [...credentials.ca] }),
});

export interface TlsListener {
  readonly server: Server;
  /**
   * Serves new credentials to the connections accepted from now on (a renewed
   * certificate); throws, keeping the old ones, if they are not usable.
   */
  setCredentials(credentials: TlsCredentials): void;
}

/** A TLS server handing each established connection to `accept` (the plain listener's). */
export const createTlsListener = (
  options: TlsListenerOptions,
  accept: (socket: Socket) => void,
  metrics: EdgeMetrics,
  logger: Logger,
): TlsListener => {
  const server = createServer({
    ...secureContextOptions(options),
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: [...MQTT_ALPN_PROTOCOLS],
    handshakeTimeout: options.handshakeTimeoutMs,
  });
  // Without CAs of its own Node would check client certificates against the public
  // roots: any publicly issued certificate must not name an Umbra device.
  let trustsClientCas = options.ca !== undefined && options.ca.length > 0;
  server.on("secureConnection", (socket: TLSSocket) => {
    metrics.tlsHandshakes.value++;
    const certificate = readClientCertificate(socket, trustsClientCas);
    if (certificate !== undefined) certificates.set(socket, certificate);
    accept(socket);
  });
  server.on("tlsClientError", (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    const reason = failureReason(error.code);
    metrics.tlsHandshakeFailures[reason].value++;
    // A scanner or a client with the wrong CA: expected traffic, never worth a warning.
    logger.debug(
      { reason, code: error.code, address: socket.remoteAddress },
      "TLS handshake failed",
    );
    socket.destroy();
  });
  // Node's pre-handshake setup: the raw socket, before any TLS byte.
  server.on("connection", (raw: Socket) => raw.setNoDelay(true));
  server.on("error", (error) => logger.error({ err: error }, "edge TLS server error"));
  return {
    server,
    setCredentials(credentials) {
      server.setSecureContext(secureContextOptions(credentials));
      trustsClientCas = credentials.ca !== undefined && credentials.ca.length > 0;
    },
  };
};

/** The client certificate of each TLS connection that presented one. */
const certificates = new WeakMap<Socket, ClientCertificate>();

/**
 * The certificate a TLS client presented, if any: its fingerprint, subject, and whether
 * it chains to a CA the listener trusts for clients.
 */
export const clientCertificate = (socket: Socket): ClientCertificate | undefined =>
  certificates.get(socket);

const readClientCertificate = (
  socket: TLSSocket,
  trustsClientCas: boolean,
): ClientCertificate | undefined => {
  const peer = socket.getPeerCertificate();
  // No certificate: Node answers with an empty object.
  if (peer === null || peer.fingerprint256 === undefined) return undefined;
  const subject = peer.subject as Record<string, string | string[] | undefined> | undefined;
  const single = (value: string | string[] | undefined): string | undefined =>
    Array.isArray(value) ? undefined : value; // several CNs: no single identity
  return {
    fingerprint: peer.fingerprint256.replaceAll(":", "").toLowerCase(),
    commonName: single(subject?.CN),
    organization: single(subject?.O),
    chainTrusted: trustsClientCas && socket.authorized,
    notBefore: Date.parse(peer.valid_from),
    notAfter: Date.parse(peer.valid_to),
  };
};

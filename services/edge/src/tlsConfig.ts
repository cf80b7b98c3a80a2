import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigInvalid, intInRange, StartupError } from "@umbra/runtime";
import { ensureDevelopmentCertificates } from "@umbra/tls";
import { Config, Effect } from "effect";
import type { TlsListenerOptions } from "./tlsListener.js";

/** The TLS listener as configured: off, or its port and credentials. */
export type TlsConfig =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly port: number;
      readonly listener: TlsListenerOptions;
      /** The development CA clients must trust, when Umbra made the certificates itself. */
      readonly caPath: string | undefined;
    };

/** `MQTTS_PORT`: a port (0: any free one) or `off`; default 8883. */
const mqttsPort = Effect.gen(function* () {
  const text = (yield* Config.String("MQTTS_PORT").pipe(Config.withDefault("8883"))).trim();
  if (text === "off") return undefined;
  const port = Number(text);
  if (text === "" || !Number.isInteger(port) || port < 0 || port > 65_535)
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: "MQTTS_PORT",
        problem: `must be a port (0-65535) or off, got '${text}'`,
      }),
    );
  return port;
});

const optionalPath = (name: string) =>
  Config.String(name).pipe(
    Config.withDefault(""),
    Config.map((text) => (text.trim() === "" ? undefined : text.trim())),
  );

const readPem = (variable: string, path: string) =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (e) =>
      new StartupError(
        `${variable}: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`,
      ),
  });

/**
 * Reads MQTTS_PORT, MQTT_TLS_CERT, MQTT_TLS_KEY, MQTT_TLS_CA and
 * MQTT_TLS_HANDSHAKE_TIMEOUT_MS. Without a certificate configured, the development CA
 * and server certificate of `$UMBRA_DATA_DIR/tls/` are used (created on first start),
 * and that CA is trusted for client certificates besides MQTT_TLS_CA.
 */
export const tlsConfig = Effect.gen(function* () {
  const port = yield* mqttsPort;
  if (port === undefined) return { enabled: false } as TlsConfig;
  const certPath = yield* optionalPath("MQTT_TLS_CERT");
  const keyPath = yield* optionalPath("MQTT_TLS_KEY");
  const caPath = yield* optionalPath("MQTT_TLS_CA");
  const handshakeTimeoutMs = yield* intInRange(
    "MQTT_TLS_HANDSHAKE_TIMEOUT_MS",
    10_000,
    100,
    600_000,
  );
  if ((certPath === undefined) !== (keyPath === undefined))
    return yield* Effect.fail(
      new ConfigInvalid({
        variable: certPath === undefined ? "MQTT_TLS_CERT" : "MQTT_TLS_KEY",
        problem:
          "MQTT_TLS_CERT and MQTT_TLS_KEY go together: set both, or neither (development certificates)",
      }),
    );
  const extraCa = caPath === undefined ? [] : [yield* readPem("MQTT_TLS_CA", caPath)];
  if (certPath !== undefined && keyPath !== undefined) {
    const cert = yield* readPem("MQTT_TLS_CERT", certPath);
    const key = yield* readPem("MQTT_TLS_KEY", keyPath);
    return {
      enabled: true,
      port,
      listener: { cert, key, ca: extraCa, handshakeTimeoutMs },
      caPath: undefined,
    } as TlsConfig;
  }
  const dataDir = yield* Config.String("UMBRA_DATA_DIR").pipe(Config.withDefault(".umbra"));
  const dev = yield* Effect.tryPromise({
    try: () => ensureDevelopmentCertificates(dataDir),
    catch: (e) =>
      new StartupError(
        `cannot create the development certificates in ${resolve(dataDir, "tls")}: ${e instanceof Error ? e.message : String(e)} (set UMBRA_DATA_DIR, or MQTT_TLS_CERT and MQTT_TLS_KEY, or MQTTS_PORT=off)`,
      ),
  });
  return {
    enabled: true,
    port,
    listener: {
      cert: dev.certPem,
      key: dev.keyPem,
      ca: [dev.caPem, ...extraCa],
      handshakeTimeoutMs,
    },
    caPath: resolve(dev.paths.ca),
  } as TlsConfig;
});

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  ConfigInvalid,
  intInRange,
  type Logger,
  messageOf,
  optionalPath,
  optionalPort,
  StartFailed,
  text,
} from "@umbra/runtime";
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
      /** Configured files, read again every `reloadMs` (a renewed certificate). */
      readonly files?: { readonly cert: string; readonly key: string; readonly ca?: string };
      readonly reloadMs: number;
    };

/**
 * The TLS listener's environment: MQTTS_PORT (a port, 0: any free one, or `off`; 8883 by
 * default), MQTT_TLS_CERT, MQTT_TLS_KEY, MQTT_TLS_CA, MQTT_TLS_HANDSHAKE_TIMEOUT_MS,
 * MQTT_TLS_RELOAD_MS and UMBRA_DATA_DIR (where development certificates are kept).
 */
export const tlsEnv = Config.all({
  port: optionalPort("MQTTS_PORT", "8883", "off"),
  certPath: optionalPath("MQTT_TLS_CERT"),
  keyPath: optionalPath("MQTT_TLS_KEY"),
  caPath: optionalPath("MQTT_TLS_CA"),
  handshakeTimeoutMs: intInRange("MQTT_TLS_HANDSHAKE_TIMEOUT_MS", 10_000, 100, 600_000),
  reloadMs: intInRange("MQTT_TLS_RELOAD_MS", 60_000, 1_000, 86_400_000),
  dataDir: text("UMBRA_DATA_DIR", ".umbra"),
});

export type TlsEnv = Config.Success<typeof tlsEnv>;

/** A certificate and its key go together. */
export const checkTlsEnv = (env: TlsEnv): Effect.Effect<TlsEnv, ConfigInvalid> =>
  env.port !== undefined && (env.certPath === undefined) !== (env.keyPath === undefined)
    ? Effect.fail(
        new ConfigInvalid({
          variable: env.certPath === undefined ? "MQTT_TLS_CERT" : "MQTT_TLS_KEY",
          problem:
            "MQTT_TLS_CERT and MQTT_TLS_KEY go together: set both, or neither (development certificates)",
        }),
      )
    : Effect.succeed(env);

const readPem = (variable: string, path: string) =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (e) => new StartFailed({ reason: `${variable}: cannot read ${path}: ${messageOf(e)}` }),
  });

/**
 * The TLS listener's credentials. Without a certificate configured, the development CA
 * and server certificate of `$UMBRA_DATA_DIR/tls/` are used (created on first start),
 * and that CA is trusted for client certificates besides MQTT_TLS_CA.
 */
export const tlsConfig = (env: TlsEnv): Effect.Effect<TlsConfig, StartFailed> =>
  Effect.gen(function* () {
    const { port, certPath, keyPath, caPath, handshakeTimeoutMs, reloadMs } = env;
    if (port === undefined) return { enabled: false } as TlsConfig;
    const extraCa = caPath === undefined ? [] : [yield* readPem("MQTT_TLS_CA", caPath)];
    if (certPath !== undefined && keyPath !== undefined) {
      const cert = yield* readPem("MQTT_TLS_CERT", certPath);
      const key = yield* readPem("MQTT_TLS_KEY", keyPath);
      return {
        enabled: true,
        port,
        listener: { cert, key, ca: extraCa, handshakeTimeoutMs },
        caPath: undefined,
        files: { cert: certPath, key: keyPath, ...(caPath === undefined ? {} : { ca: caPath }) },
        reloadMs,
      } as TlsConfig;
    }
    const dev = yield* Effect.tryPromise({
      try: () => ensureDevelopmentCertificates(env.dataDir),
      catch: (e) =>
        new StartFailed({
          reason: `cannot create the development certificates in ${resolve(env.dataDir, "tls")}: ${messageOf(e)} (set UMBRA_DATA_DIR, or MQTT_TLS_CERT and MQTT_TLS_KEY, or MQTTS_PORT=off)`,
        }),
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
      reloadMs,
    } as TlsConfig;
  });

/**
 * Reads the configured certificate, key and client CAs again every `reloadMs` and hands
 * them to `apply` when they changed (cert-manager renews the Secret's files in place).
 * Unreadable or unusable files are logged once per content and the old ones kept.
 * Returns the stopper.
 */
export const watchTlsFiles = (
  files: { readonly cert: string; readonly key: string; readonly ca?: string },
  reloadMs: number,
  apply: (credentials: { cert: string; key: string; ca: string[] }) => void,
  logger: Logger,
): (() => void) => {
  const read = (): string[] =>
    [files.cert, files.key, ...(files.ca === undefined ? [] : [files.ca])].map((path) =>
      readFileSync(path, "utf8"),
    );
  let current = "";
  try {
    current = read().join("\0");
  } catch {
    // Read at start already; a file gone now is reported at the next tick.
  }
  let failed = "";
  const timer = setInterval(() => {
    let texts: string[];
    try {
      texts = read();
    } catch (e) {
      const why = messageOf(e);
      if (failed !== why) logger.warn({ err: why }, "TLS files not readable; keeping the old ones");
      failed = why;
      return;
    }
    const joined = texts.join("\0");
    if (joined === current) return;
    try {
      apply({ cert: texts[0] as string, key: texts[1] as string, ca: texts.slice(2) });
      current = joined;
      failed = "";
      logger.info({ cert: files.cert }, "TLS certificate reloaded");
    } catch (e) {
      const why = messageOf(e);
      if (failed !== joined)
        logger.warn({ err: why }, "new TLS files not usable; keeping the old ones");
      failed = joined;
    }
  }, reloadMs);
  timer.unref();
  return () => clearInterval(timer);
};

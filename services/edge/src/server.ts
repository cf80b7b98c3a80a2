import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "@umbra/runtime";
import { AuthThrottle } from "./authThrottle.js";
import type { EdgeBackend } from "./backend.js";
import { Reason } from "./codes.js";
import { type EdgeLimits, resolveEdgeLimits } from "./limits.js";
import { type EdgeMetrics, edgeMetrics } from "./metrics.js";
import { PersistentSessions } from "./persistentSessions.js";
import { Session, type SessionContext } from "./session.js";
import {
  createTlsListener,
  type TlsCredentials,
  type TlsListener,
  type TlsListenerOptions,
} from "./tlsListener.js";

export interface EdgeServerOptions {
  readonly backend: EdgeBackend;
  readonly logger: Logger;
  readonly limits?: Partial<EdgeLimits>;
  /** Default: the process's `umbra_edge_*` metrics. */
  readonly metrics?: EdgeMetrics;
  /** What persistent sessions expire by, in ms since the epoch (tests move it). Default Date.now. */
  readonly clock?: (() => number) | undefined;
}

export interface EdgeServer {
  /** Starts accepting MQTT over TCP; resolves with the port actually bound (for port 0). */
  listen(port: number, host: string): Promise<number>;
  /**
   * Starts accepting MQTT over TLS (the same sessions as `listen`); resolves with the
   * port bound. At most one TLS listener per server.
   */
  listenTls(port: number, host: string, tls: TlsListenerOptions): Promise<number>;
  /**
   * New TLS credentials (a renewed certificate) for the connections accepted from now
   * on; throws, keeping the old ones, if they are unusable or no TLS listener is open.
   */
  setTlsCredentials(tls: TlsCredentials): void;
  /**
   * Stops accepting, closes every connection (MQTT 5: DISCONNECT 0x8B) and resolves
   * once all their sockets are closed.
   */
  close(): Promise<void>;
  /** Authenticated sessions currently open on this server. */
  readonly sessionCount: number;
  readonly limits: EdgeLimits;
}

/** The MQTT server of the edge: TCP, MQTT 3.1, 3.1.1 and 5, sessions for the backend. */
export const createEdgeServer = (options: EdgeServerOptions): EdgeServer => {
  const { backend, logger } = options;
  const limits = resolveEdgeLimits(options.limits);
  /** Every connection, authenticated or not, so close() reaches them all. */
  const connections = new Set<Session>();
  /** The open session of each device on this server: a newer one takes over. */
  const sessionsByDevice = new Map<string, Session>();
  let closing: Promise<void> | undefined;
  const metrics = options.metrics ?? edgeMetrics();
  const removeConnections = metrics.connections(() => sessionsByDevice.size);

  const context: SessionContext = {
    backend,
    logger,
    limits,
    metrics,
    authThrottle: new AuthThrottle({
      limit: limits.authFailureLimit,
      windowMs: limits.authFailureWindowMs,
      delayMs: limits.authFailureDelayMs,
      tableSize: limits.authFailureTableSize,
    }),
    // Until a session authenticates in a dialect's form (certificates name none).
    traffic: metrics.traffic("onenet"),
    persistentSessions: new PersistentSessions(limits.maxPersistentSessions, options.clock),
    register(session) {
      const older = sessionsByDevice.get(session.deviceKey);
      sessionsByDevice.set(session.deviceKey, session);
      older?.replacedOnThisEdge();
    },
    unregister(session) {
      connections.delete(session);
      if (sessionsByDevice.get(session.deviceKey) === session)
        sessionsByDevice.delete(session.deviceKey);
    },
  };

  /** Every connection, plain or TLS, becomes a session here. */
  const accept = (socket: Socket): void => {
    if (closing !== undefined) {
      socket.destroy();
      return;
    }
    // Without it Nagle holds back small acks: QoS 1 round trips take ~40 ms.
    socket.setNoDelay(true);
    connections.add(new Session(socket, context));
  };
  const server = createServer(accept);
  // Accept failures (EMFILE and the like) must not take the process down.
  server.on("error", (error) => logger.error({ err: error }, "edge server error"));
  let tlsListener: TlsListener | undefined;

  const bind = (target: Server, port: number, host: string, what: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      target.once("error", onError);
      target.listen(port, host, () => {
        target.off("error", onError);
        const bound = (target.address() as AddressInfo).port;
        logger.debug({ host, port: bound }, `edge listening (${what})`);
        resolve(bound);
      });
    });

  return {
    limits,
    get sessionCount() {
      return sessionsByDevice.size;
    },

    listen(port, host) {
      return bind(server, port, host, "mqtt");
    },

    listenTls(port, host, tls) {
      if (tlsListener !== undefined) return Promise.reject(new Error("TLS listener already open"));
      tlsListener = createTlsListener(tls, accept, metrics, logger);
      return bind(tlsListener.server, port, host, "mqtts");
    },

    setTlsCredentials(tls) {
      if (tlsListener === undefined) throw new Error("no TLS listener");
      tlsListener.setCredentials(tls);
    },

    close() {
      closing ??= new Promise<void>((resolve) => {
        // Each callback runs once the last connection of its listener has closed.
        const closeListener = (target: Server | undefined): Promise<void> =>
          new Promise((done) => {
            if (target === undefined || !target.listening) done();
            else target.close(() => done());
          });
        Promise.all([closeListener(server), closeListener(tlsListener?.server)]).then(() => {
          removeConnections();
          resolve();
        });
        for (const session of [...connections])
          session.close(Reason.serverShuttingDown, "server shutting down");
      });
      return closing;
    },
  };
};

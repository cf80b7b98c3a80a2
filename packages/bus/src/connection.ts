import { connect, type NatsConnection } from "@nats-io/transport-node";

export type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";

export interface BusOptions {
  readonly url: string;
  /** Shows in `nats server report connections`: which service this is. */
  readonly name: string;
}

/**
 * Connects to NATS. The first connection must succeed (a clear error otherwise);
 * after that the client reconnects for ever, buffering what is published meanwhile.
 */
export const connectBus = (options: BusOptions): Promise<NatsConnection> =>
  connect({
    servers: options.url,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: 5_000,
    noEcho: false,
  });

/** What happens to a NATS connection after it is made, as `watchBus` reports it. */
export type BusEvent =
  | { readonly kind: "disconnected"; readonly server: string }
  | { readonly kind: "reconnected"; readonly server: string }
  /** Reported by the server (permissions, limits) or a connection gone stale. */
  | { readonly kind: "error"; readonly detail: string }
  /** A subscription fell behind and the client dropped messages for it. */
  | { readonly kind: "slow-consumer"; readonly subject: string };

/**
 * Follows `nc`'s status until it closes, calling `onEvent` for each change worth
 * counting or logging. `connected` is false from a disconnect until the reconnect.
 */
export const watchBus = (
  nc: NatsConnection,
  onEvent: (event: BusEvent) => void,
): { readonly connected: boolean } => {
  const state = { connected: true };
  const follow = async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          state.connected = false;
          onEvent({ kind: "disconnected", server: status.server });
          break;
        case "reconnect":
          state.connected = true;
          onEvent({ kind: "reconnected", server: status.server });
          break;
        case "error":
          onEvent({ kind: "error", detail: status.error.message });
          break;
        case "staleConnection":
          onEvent({ kind: "error", detail: "stale connection" });
          break;
        case "slowConsumer":
          onEvent({ kind: "slow-consumer", subject: status.sub.getSubject() });
          break;
        default:
          break;
      }
    }
  };
  follow().catch(() => undefined);
  return state;
};

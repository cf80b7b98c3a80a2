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

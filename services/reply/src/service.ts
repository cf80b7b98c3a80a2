import { Nats, natsConnected, serveOps, serviceLogger } from "@umbra/runtime";
import { Effect, Layer } from "effect";
import { Reply } from "./reply.js";

/**
 * The reply service: consumes result events, delivers dialect messages to devices. It
 * has no configuration of its own; on release it unsubscribes and lets deliveries in
 * flight finish before the connection drains.
 */
export const ReplyLive = Layer.effectDiscard(
  Effect.gen(function* () {
    const logger = yield* serviceLogger("reply");
    const nc = yield* Nats;
    const reply = new Reply(nc, logger);
    // Ready while subscribed to the events with NATS connected.
    let subscribed = false;
    const opsPort = yield* serveOps({
      service: "reply",
      readiness: () => ({
        ready: subscribed && natsConnected(nc),
        subscribed,
        nats: natsConnected(nc),
      }),
    });
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        reply.start();
        subscribed = true;
      }),
      () =>
        Effect.promise(() => {
          subscribed = false;
          return reply.stop();
        }),
    );
    logger.info({ opsPort }, "ready");
  }),
);

import {
  createLogger,
  logLevel,
  natsConnected,
  natsConnection,
  natsUrl,
  serveOps,
} from "@umbra/runtime";
import { Effect } from "effect";
import { Reply } from "./reply.js";

/** The reply service: consumes result events, delivers dialect messages to devices. */
export const replyService = Effect.gen(function* () {
  const logger = createLogger("reply", yield* logLevel);
  const nc = yield* natsConnection(yield* natsUrl, "umbra-reply", logger);
  const reply = new Reply(nc, logger);
  // Ready while subscribed to the events with NATS connected.
  let subscribed = false;
  const opsPort = yield* serveOps(
    {
      service: "reply",
      readiness: () => ({
        ready: subscribed && natsConnected(nc),
        subscribed,
        nats: natsConnected(nc),
      }),
    },
    logger,
  );
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
});

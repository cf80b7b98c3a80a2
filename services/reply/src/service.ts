import { createLogger, logLevel, natsConnection, natsUrl } from "@umbra/runtime";
import { Effect } from "effect";
import { Reply } from "./reply.js";

/** The reply service: consumes result events, delivers dialect messages to devices. */
export const replyService = Effect.gen(function* () {
  const logger = createLogger("reply", yield* logLevel);
  const nc = yield* natsConnection(yield* natsUrl, "umbra-reply");
  const reply = new Reply(nc, logger);
  yield* Effect.acquireRelease(
    Effect.sync(() => reply.start()),
    () => Effect.promise(() => reply.stop()),
  );
  logger.info("ready");
});

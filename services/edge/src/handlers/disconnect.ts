import type { HandlerSession } from "../handlerSession.js";

/** DISCONNECT from the client: a clean end. No will to discard: wills are not supported. */
export const handleDisconnect = (session: HandlerSession): void => {
  session.end("client disconnected");
};

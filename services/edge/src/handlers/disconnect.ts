import type { Session } from "../session.js";

/** DISCONNECT from the client: a clean end. No will to discard: wills are not supported. */
export const handleDisconnect = (session: Session): void => {
  session.end("client disconnected");
};

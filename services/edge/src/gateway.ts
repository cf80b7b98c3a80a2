import { parseOneNetTopic } from "@umbra/dialects";
import type { Session } from "./session.js";

/**
 * Whether a session may use a topic (or filter) of another device because it is a
 * gateway acting for that registered sub-device (seed 003). The device part of the
 * topic must be spelled out: names never contain `+` or `#`, so a wildcard there
 * matches no sub-device.
 */
export const actsForTopic = (session: Session, topic: string): boolean => {
  const { backend } = session.context;
  if (backend.actsFor === undefined) return false;
  const parsed = parseOneNetTopic(topic);
  return parsed !== undefined && backend.actsFor(session, parsed.device);
};

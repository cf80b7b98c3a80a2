/**
 * Event ids and where a stream starts. An event id is `{stream sequence}.{index in that
 * message}`: the message a client saw last is read again and its events up to that
 * index skipped; a client whose last event is no longer kept is told so (`missed`).
 */

/** Where a client is in the stream: the `index`-th event of the message at `seq`. */
export interface EventId {
  readonly seq: number;
  readonly index: number;
}

export const formatEventId = (id: EventId): string => `${id.seq}.${id.index}`;

/** `12.3` → `{seq: 12, index: 3}`; anything else (`undefined`) is not an id this API sent. */
export const parseEventId = (text: string): EventId | undefined => {
  const match = /^\s*(\d{1,15})\.(\d{1,6})\s*$/.exec(text);
  if (match === null) return undefined;
  const seq = Number(match[1]);
  return seq >= 1 ? { seq, index: Number(match[2]) } : undefined;
};

export type MissedReason = "expired" | "reset" | "no-history";

export interface Missed {
  readonly reason: MissedReason;
  readonly detail: string;
}

/** Where a stream starts reading, and what the client is told first. */
export interface StartPlan {
  /** The first stream sequence to read. */
  readonly seq: number;
  /** Events of the message at `after.seq` up to `after.index` were sent already. */
  readonly after: EventId | undefined;
  readonly missed: Missed | undefined;
}

/**
 * Where to start for a client that saw `after` last (`undefined`: a new client, which
 * gets the events from now on), given the stream's first and last sequence.
 */
export const planStart = (
  state: { readonly firstSeq: number; readonly lastSeq: number },
  after: EventId | undefined,
): StartPlan => {
  const oldest = Math.max(state.firstSeq, 1);
  if (after === undefined) return { seq: state.lastSeq + 1, after: undefined, missed: undefined };
  const id = formatEventId(after);
  if (after.seq > state.lastSeq)
    return {
      seq: oldest,
      after: undefined,
      missed: {
        reason: "reset",
        detail: `event ${id} is newer than any kept: the event history was reset; the stream starts at the oldest event kept`,
      },
    };
  if (after.seq < oldest)
    return {
      seq: oldest,
      after: undefined,
      missed: {
        reason: "expired",
        detail: `events after ${id} are no longer all kept (retention window); the stream starts at the oldest event kept`,
      },
    };
  return { seq: after.seq, after, missed: undefined };
};

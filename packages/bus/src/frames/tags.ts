/**
 * The first byte of every frame on the bus: what it is. Each decoder switches on it
 * and refuses another family's frame, so no reader guesses from the payload (as acks,
 * once JSON, were told from deliveries by a leading `{`). Wire values: never reuse one.
 *
 * | tag | frame                | subject                        | module        |
 * |-----|----------------------|--------------------------------|---------------|
 * | 1   | deliver              | `umbra.dev.…`                  | outbound.ts   |
 * | 2   | take-over            | `umbra.dev.…`                  | outbound.ts   |
 * | 3   | edge deliver         | `umbra.edge.…`                 | outbound.ts   |
 * | 4   | topology changed     | `umbra.dev.…` (a gateway's)    | outbound.ts   |
 * | 5   | command              | `umbra.cmd.…`                  | commands.ts   |
 * | 6   | command batch        | `umbra.cmd.…`                  | commands.ts   |
 * | 7   | acks                 | `umbra.edge.…`                 | acks.ts       |
 * | 8   | events (JSON)        | `umbra.evt.…`                  | events.ts     |
 * | 9   | command answer (JSON)| a cloud client's inbox         | answers.ts    |
 * | 10  | gateway reply        | `umbra.gw.…`                   | gateway.ts    |
 * | 11  | gateway delivered    | the caller's request inbox     | gateway.ts    |
 *
 * Not frames: application events on `umbra.app.…` are JSON arrays kept by JetStream and
 * read as text by the API (and by anyone replaying the stream), the only thing on that
 * subject; `umbra.cluster.changed` is empty.
 */
export const Tag = {
  Deliver: 1,
  Takeover: 2,
  EdgeDeliver: 3,
  Topology: 4,
  Command: 5,
  CommandBatch: 6,
  Acks: 7,
  Events: 8,
  CommandAnswer: 9,
  GatewayReply: 10,
  GatewayDelivered: 11,
} as const;

export type Tag = (typeof Tag)[keyof typeof Tag];

/** A frame that is not what its reader expects: another family's, unknown, or cut short. */
export class FrameError extends Error {
  override readonly name = "FrameError";
}

/** Refuses a frame that does not start with `tag`. */
export const expectTag = (frame: Uint8Array, tag: Tag, what: string): void => {
  if (frame.length === 0) throw new FrameError(`empty frame, expected ${what}`);
  if (frame[0] !== tag) throw new FrameError(`frame tagged ${frame[0]}, expected ${what}`);
};

/**
 * A JSON frame as text: the tag as its first character (one UTF-8 byte), so a shard
 * hands the client one string and the client encodes it once.
 */
export const tagText = (tag: Tag, json: string): string => String.fromCharCode(tag) + json;

const decoder = new TextDecoder();

/** The JSON after a text frame's tag; a FrameError if it is not JSON. */
export const parseTagged = (frame: Uint8Array, tag: Tag, what: string): unknown => {
  expectTag(frame, tag, what);
  try {
    return JSON.parse(decoder.decode(frame.subarray(1)));
  } catch {
    throw new FrameError(`${what} is not JSON`);
  }
};

import { encodeJson, type ShadowDocument, type ShadowError } from "@umbra/core";
import { FrameError, parseTagged, Tag, tagText } from "./tags.js";

/** Answer to a cloud client's command (on the inbox it gave as reply subject). */
export type CommandReply =
  | { readonly ok: true; readonly version: number; readonly document?: ShadowDocument }
  | { readonly ok: false; readonly error: ShadowError };

/** `[tag 9]` then the reply as JSON, as text: the bus client encodes it once. */
export const encodeCommandReply = (reply: CommandReply): string =>
  tagText(Tag.CommandReply, encodeJson(reply));

export const decodeCommandReply = (frame: Uint8Array): CommandReply => {
  const reply = parseTagged(frame, Tag.CommandReply, "a command reply");
  if (
    typeof reply !== "object" ||
    reply === null ||
    typeof (reply as { ok?: unknown }).ok !== "boolean"
  )
    throw new FrameError("command reply has no ok");
  return reply as CommandReply;
};

import { encodeJson, type ShadowDocument, type ShadowError } from "@umbra/core";
import { FrameError, parseTagged, Tag, tagText } from "./tags.js";

/** Answer to a cloud client's command (on the inbox it gave as reply subject). */
export type CommandAnswer =
  | { readonly ok: true; readonly version: number; readonly document?: ShadowDocument }
  | { readonly ok: false; readonly error: ShadowError };

/** `[tag 9]` then the answer as JSON, as text: the bus client encodes it once. */
export const encodeCommandAnswer = (reply: CommandAnswer): string =>
  tagText(Tag.CommandAnswer, encodeJson(reply));

export const decodeCommandAnswer = (frame: Uint8Array): CommandAnswer => {
  const reply = parseTagged(frame, Tag.CommandAnswer, "a command answer");
  if (
    typeof reply !== "object" ||
    reply === null ||
    typeof (reply as { ok?: unknown }).ok !== "boolean"
  )
    throw new FrameError("command answer has no ok");
  return reply as CommandAnswer;
};

import type { CommandHeader, ShadowEvent } from "@umbra/bus";
import { defaultLimits, type ShadowDocument } from "@umbra/core";
import { type DeviceDialect, type DeviceId, eventJsonOf, type OutboundText } from "@umbra/dialects";
import { runCommand } from "../src/index.js";

/**
 * One device's commands through the shard's handlers and a dialect's renders, as the
 * dialect tests drive them: `run` a command on a document (payload as text, default
 * limits), then read what the device is `answers`ed (its own request) or `pushes` (a
 * change made by others).
 */
export const deviceHarness = (device: DeviceId, dialect: DeviceDialect) => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  const run = (
    doc: ShadowDocument | undefined,
    header: CommandHeader,
    payload: string,
    now = 1000,
  ) =>
    runCommand({
      doc,
      device,
      header,
      payload: bytes(payload),
      now,
      limits: defaultLimits,
      origin: "e",
    });
  const render =
    (how: "renderAnswer" | "renderPush") =>
    (event: ShadowEvent): OutboundText[] => {
      const out: OutboundText[] = [];
      dialect[how](event, device, out, eventJsonOf(event), 0);
      return out;
    };
  return { run, answers: render("renderAnswer"), pushes: render("renderPush") };
};

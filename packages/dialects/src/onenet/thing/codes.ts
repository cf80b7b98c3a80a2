import { oneNetErrorCode, type ShadowError } from "@umbra/core";

/**
 * Codes of the thing-model replies (`{"id","code","msg"}`). OneNET documents `code` 200
 * for success and no table of errors (DIALECTS.md §4.3), so Umbra uses the device
 * image's codes (seed 000) for the same failures — a device sees one meaning per code
 * on both — and adds codes after them for what only the thing model can get wrong.
 */
export const ONENET_THING_SUCCESS = 200;

export const ONENET_THING_MESSAGES = {
  200: "success",
  128: "unspecified error",
  160: "illegal json",
  161: "json out of bound",
  162: "json depth out of bound",
  165: "invalid parameters",
  166: "device image existed",
  167: "device image not exists",
  168: "too many sub-devices",
  169: "too many data points",
  170: "too many history values",
  171: "not a sub-device of this gateway",
} as const;

export type ThingCode = keyof typeof ONENET_THING_MESSAGES;
export type ThingErrorCode = Exclude<ThingCode, 200>;

/** Codes only the thing model has (the rest are the image's, from the engine's errors). */
export const THING_CODES = {
  tooManySubDevices: 168,
  tooManyPoints: 169,
  tooManyHistoryValues: 170,
  notASubDevice: 171,
} as const satisfies Record<string, ThingErrorCode>;

/**
 * The code of an engine error, as the image answers it (seed 000). A thing payload has
 * no `state`, so the image's 163 / 164 ("state", "desired or reported" missing) cannot
 * say what is wrong there: 165.
 */
export const thingErrorCode = (error: ShadowError): ThingErrorCode => {
  const code = oneNetErrorCode(error);
  return code === 163 || code === 164 ? 165 : code;
};

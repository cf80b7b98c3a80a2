/**
 * The Plug and Play model id a device announces in its CONNECT username
 * (`{host}/{deviceId}/?api-version=…&model-id=dtmi:…;1&DeviceClientType=…`, DIALECTS.md
 * §2.3), which becomes the digital twin's `$model`. The Node SDK writes it unencoded
 * (captured); other SDKs percent-encode `:` and `;`, so it is URL-decoded first.
 */

/** DTDL's bound on a model id's length. */
export const MAX_DTMI_LENGTH = 2048;

/** DTMI: `dtmi:` then `:`-separated segments (a letter first, no trailing `_`), then `;{version}`. */
const SEGMENT = "[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?";
const DTMI = new RegExp(`^dtmi:${SEGMENT}(?::${SEGMENT})*;[1-9][0-9]{0,8}$`);

export const isDtmi = (id: string): boolean => id.length <= MAX_DTMI_LENGTH && DTMI.test(id);

/**
 * The model id of a username, `undefined` when there is none. A `model-id` that is
 * repeated, badly escaped or no DTMI is a refusal (`{ problem }`): a device that names
 * a model must get it recorded as named, or be told.
 */
export const azureModelIdOf = (
  username: string,
): string | undefined | { readonly problem: string } => {
  const query = username.indexOf("?");
  if (query === -1) return undefined;
  let found: string | undefined;
  for (const pair of username.slice(query + 1).split("&")) {
    if (!pair.startsWith("model-id=")) continue;
    if (found !== undefined) return { problem: "model-id is given twice" };
    const raw = pair.slice("model-id=".length);
    if (raw.length > MAX_DTMI_LENGTH * 3) return { problem: "model-id is too long" };
    try {
      found = decodeURIComponent(raw);
    } catch {
      return { problem: "model-id is not correctly URL-encoded" };
    }
  }
  if (found === undefined) return undefined;
  return isDtmi(found) ? found : { problem: `model-id is not a DTMI: ${found.slice(0, 80)}` };
};

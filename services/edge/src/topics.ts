/**
 * Topic name and filter syntax (MQTT §4.7). The ACL (the dialects' `parseTopic` and `subscribeVerdict`)
 * checks only the prefix, so wildcards past it must be caught here.
 */

/** A PUBLISH topic: not empty, no wildcard, no NUL. */
export const isValidTopicName = (topic: string): boolean =>
  topic.length > 0 && !topic.includes("+") && !topic.includes("#") && !topic.includes("\u0000");

/** A SUBSCRIBE filter: `+` alone in its level, `#` alone in the last level, no NUL. */
export const isValidTopicFilter = (filter: string): boolean => {
  if (filter.length === 0 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  const last = levels.length - 1;
  for (const [i, level] of levels.entries()) {
    if (level.includes("#") && (level !== "#" || i !== last)) return false;
    if (level.includes("+") && level !== "+") return false;
  }
  return true;
};

/**
 * Whether `topic` takes more than `maxBytes` bytes in UTF-8. A UTF-16 unit takes 1 to 3
 * bytes, so the string's length alone settles most cases without counting.
 */
export const longerThanBytes = (topic: string, maxBytes: number): boolean =>
  topic.length > maxBytes || (topic.length * 3 > maxBytes && Buffer.byteLength(topic) > maxBytes);

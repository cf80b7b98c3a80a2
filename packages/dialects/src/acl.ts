/**
 * Whether an MQTT topic filter (with `+` and `#`) matches a topic name. Topics starting
 * with `$` are not matched by a leading wildcard (MQTT 3.1.1 §4.7.2).
 */
export const topicMatches = (filter: string, topic: string): boolean => {
  if (filter === topic) return true;
  if ((filter[0] === "+" || filter[0] === "#") && topic[0] === "$") return false;
  let f = 0;
  let t = 0;
  for (;;) {
    const fEnd = nextSlash(filter, f);
    const level = filter.slice(f, fEnd);
    if (level === "#") return true; // also matches the parent level ("a/#" matches "a")
    if (t > topic.length) return false; // the topic has no more levels
    const tEnd = nextSlash(topic, t);
    if (level !== "+" && level !== topic.slice(t, tEnd)) return false;
    if (fEnd === filter.length) return tEnd === topic.length;
    f = fEnd + 1;
    t = tEnd + 1;
  }
};

const nextSlash = (s: string, from: number): number => {
  const i = s.indexOf("/", from);
  return i === -1 ? s.length : i;
};

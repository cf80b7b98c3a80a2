/** Reads counters from Prometheus text endpoints (the shards' `/metrics` on OPS_PORT). */

/**
 * The sum of a metric's samples (every label set) in one exposition, or undefined when
 * the exposition has no sample of it.
 */
export const sampleSum = (exposition: string, name: string): number | undefined => {
  let sum: number | undefined;
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // The name must end here: `name 3` or `name{…} 3`, not `name_bucket …`.
    if (rest[0] !== " " && rest[0] !== "{") continue;
    const afterLabels = rest[0] === "{" ? rest.slice(rest.indexOf("}") + 1) : rest;
    const value = Number(afterLabels.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
};

/**
 * A counter summed over endpoints; null when no endpoint has it (older services, or an
 * endpoint that does not answer): the report then says "n/a" rather than 0.
 */
export const scrapeSum = async (urls: readonly string[], name: string): Promise<number | null> => {
  const values = await Promise.all(
    urls.map(async (url) => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) {
          await res.arrayBuffer();
          return undefined;
        }
        return sampleSum(await res.text(), name);
      } catch {
        return undefined;
      }
    }),
  );
  const present = values.filter((v): v is number => v !== undefined);
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0);
};

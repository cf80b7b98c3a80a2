/**
 * A load scenario: what `npm run load -- --scenario=<file>` runs. A JSON file whose
 * fields are checked here, each with a message that names the field and the rule, so a
 * typo or an impossible value stops the run before any server starts.
 */
import { readFileSync } from "node:fs";

export interface Scenario {
  /** Names the run in the report (default: the file's name). */
  readonly name: string;
  /** Simulated devices, each one MQTT connection. */
  readonly devices: number;
  /** New device connections per second while the devices come up. */
  readonly connectRate: number;
  /** Writes per device per second (device reports and cloud writes together). */
  readonly updateRate: number;
  /** Share of the writes made by applications through the API's `PATCH …/shadow` (0–1). */
  readonly cloudShare: number;
  /** QoS of the devices' publishes and subscriptions. */
  readonly qos: 0 | 1;
  /** The measured window, which starts once every device is connected. */
  readonly durationSeconds: number;
  /** How long, after the window, answers still in flight may take before they count as lost. */
  readonly drainSeconds: number;
  /** Edge processes (devices are spread over them) and shard processes (a cluster when > 1). */
  readonly edges: number;
  readonly shards: number;
  /** Worker threads of the load generator that share the devices. */
  readonly loadThreads: number;
}

export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
}

interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly fallback?: number;
}

const RULES: Record<Exclude<keyof Scenario, "name" | "qos">, NumberRule> = {
  devices: { min: 1, max: 100_000, integer: true },
  connectRate: { min: 1, max: 100_000, integer: false, fallback: 200 },
  updateRate: { min: 0.001, max: 1000, integer: false },
  cloudShare: { min: 0, max: 1, integer: false, fallback: 0 },
  durationSeconds: { min: 1, max: 86_400, integer: false },
  drainSeconds: { min: 1, max: 600, integer: false, fallback: 10 },
  edges: { min: 1, max: 16, integer: true, fallback: 1 },
  shards: { min: 1, max: 16, integer: true, fallback: 1 },
  loadThreads: { min: 1, max: 64, integer: true, fallback: 1 },
};

/** Keys a scenario may carry besides the settings: notes for the reader. */
const NOTES = new Set(["$comment", "description"]);

/** Checks a parsed scenario; `fallbackName` names it when it has no `name`. */
export const parseScenario = (value: unknown, fallbackName = "scenario"): Scenario => {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ScenarioError("a scenario is a JSON object");
  const raw = value as Record<string, unknown>;
  const problems: string[] = [];
  const known = new Set<string>([...Object.keys(RULES), "name", "qos", ...NOTES]);
  for (const key of Object.keys(raw))
    if (!known.has(key))
      problems.push(
        `unknown field '${key}' (known: ${[...known].filter((k) => !NOTES.has(k)).join(", ")})`,
      );

  const numbers = {} as Record<keyof typeof RULES, number>;
  for (const [key, rule] of Object.entries(RULES) as [keyof typeof RULES, NumberRule][]) {
    const given = raw[key];
    if (given === undefined) {
      if (rule.fallback === undefined) problems.push(`'${key}' is required`);
      else numbers[key] = rule.fallback;
      continue;
    }
    const kind = rule.integer ? "an integer" : "a number";
    if (
      typeof given !== "number" ||
      !Number.isFinite(given) ||
      (rule.integer && !Number.isInteger(given)) ||
      given < rule.min ||
      given > rule.max
    )
      problems.push(
        `'${key}' must be ${kind} in [${rule.min}, ${rule.max}], not ${JSON.stringify(given)}`,
      );
    else numbers[key] = given;
  }

  const qos = raw.qos ?? 0;
  if (qos !== 0 && qos !== 1) problems.push(`'qos' must be 0 or 1, not ${JSON.stringify(qos)}`);
  const name = raw.name ?? fallbackName;
  if (typeof name !== "string" || !/^[\w.-]{1,64}$/.test(name))
    problems.push(
      `'name' must be 1–64 letters, digits, '.', '_' or '-', not ${JSON.stringify(name)}`,
    );
  if (problems.length === 0 && numbers.loadThreads > numbers.devices)
    problems.push(
      `'loadThreads' (${numbers.loadThreads}) cannot exceed 'devices' (${numbers.devices})`,
    );

  if (problems.length > 0) throw new ScenarioError(problems.join("; "));
  return { name: name as string, qos: qos as 0 | 1, ...numbers };
};

/** Reads and checks a scenario file; errors name the file. */
export const loadScenario = (path: string): Scenario => {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`scenario ${path} is not JSON: ${(error as Error).message}`);
  }
  const base =
    path
      .split("/")
      .pop()
      ?.replace(/\.json$/, "") ?? "scenario";
  try {
    return parseScenario(value, base);
  } catch (error) {
    throw new ScenarioError(`scenario ${path}: ${(error as Error).message}`);
  }
};

/** `--short`: the same mix and rates on at most 200 devices for at most 10 s. */
export const shortened = (s: Scenario): Scenario => {
  const devices = Math.min(s.devices, 200);
  return {
    ...s,
    name: `${s.name}-short`,
    devices,
    durationSeconds: Math.min(s.durationSeconds, 10),
    loadThreads: Math.min(s.loadThreads, devices),
  };
};

/** Writes the whole cluster receives per second once every device is connected. */
export const plannedWritesPerSecond = (s: Scenario): number => s.devices * s.updateRate;

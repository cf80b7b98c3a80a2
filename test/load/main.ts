/**
 * `npm run load -- --scenario=test/load/scenarios/<name>.json [--short] [--report=file.html]`
 *
 * Brings up a cluster of its own (containers when a Docker engine answers, local
 * processes otherwise), runs the scenario, prints the table and writes the HTML report
 * (with the figures as JSON beside it). Progress goes to stderr, the table and a last
 * JSON line to stdout. Exit code: 0 for a clean run, 1 for a run with errors, 2 for a
 * bad command line or scenario.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../src/harness.js";
import { cpuPerWriteUs, renderTable } from "./report.js";
import { renderHtml } from "./report-html.js";
import { runLoad } from "./run.js";
import { loadScenario, ScenarioError, shortened } from "./scenario.js";

const USAGE = `Usage: npm run load -- [--scenario=test/load/scenarios/ci.json] [--short] [--report=file.html] [--runtime=auto|containers|local]
  --scenario  the scenario file (JSON; see test/load/README.md)
  --short     at most 200 devices for at most 10 s, same rates and mix
  --report    where the HTML report goes (default .umbra/load/<name>-<time>.html)
  --runtime   containers: every service, NATS and Redis in containers (a Docker engine
              must answer); local: local processes; auto (default): containers when an
              engine answers (the same as UMBRA_TEST_DOCKER=1, 0 or unset)`;

const RUNTIMES: Record<string, string | undefined> = {
  auto: undefined,
  containers: "1",
  local: "0",
};

const main = async (): Promise<number> => {
  let values: {
    scenario?: string;
    short?: boolean;
    report?: string;
    runtime?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        scenario: { type: "string" },
        short: { type: "boolean" },
        report: { type: "string" },
        runtime: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.runtime !== undefined) {
    if (!Object.hasOwn(RUNTIMES, values.runtime)) {
      console.error(
        `--runtime must be auto, containers or local, not '${values.runtime}'\n${USAGE}`,
      );
      return 2;
    }
    // The harness decides once per process from this variable, before anything starts.
    const choice = RUNTIMES[values.runtime];
    if (choice === undefined) delete process.env.UMBRA_TEST_DOCKER;
    else process.env.UMBRA_TEST_DOCKER = choice;
  }
  let scenario: ReturnType<typeof loadScenario>;
  try {
    scenario = loadScenario(
      resolve(values.scenario ?? join(REPO_ROOT, "test/load/scenarios/ci.json")),
    );
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    return 2;
  }
  if (values.short === true) scenario = shortened(scenario);

  const report = await runLoad(scenario);
  const stamp = report.startedAt.replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const html = resolve(
    values.report ?? join(REPO_ROOT, ".umbra", "load", `${scenario.name}-${stamp}.html`),
  );
  mkdirSync(dirname(html), { recursive: true });
  writeFileSync(html, renderHtml(report));
  const json = `${html.replace(/\.html?$/, "")}.json`;
  writeFileSync(json, `${JSON.stringify(report, null, 1)}\n`);

  console.log(`\n${renderTable(report)}`);
  console.log(`report: ${html}\n        ${json}`);
  console.log(
    JSON.stringify({
      load: scenario.name,
      runtime: report.runtime,
      ok: report.ok,
      devices: scenario.devices,
      connected: report.connected,
      writesPerSec: Math.round(report.all.perSecond),
      p50Ms: Number(report.all.latencyMs.p50.toFixed(3)),
      p95Ms: Number(report.all.latencyMs.p95.toFixed(3)),
      p99Ms: Number(report.all.latencyMs.p99.toFixed(3)),
      errors: report.errors.total,
      casConflicts: report.casConflicts,
      cpuPerWriteUs: Math.round(cpuPerWriteUs(report)) || null,
    }),
  );
  return report.ok ? 0 : 1;
};

process.exitCode = await main();

#!/usr/bin/env node
// Runs every compiled test file of the repository with node's test runner, so that
// `npm test` is one command whose closing summary CI reads. Tests are compiled by
// `tsc -b` (npm's pretest) into each workspace's dist/test and into test/dist.
//
// `--containers` (npm run test:containers) runs the container suite instead: the tests
// that exercise the harness's servers in containers (start, halt, pause, restart) and the
// checks of the image under test (test/containers), with UMBRA_TEST_DOCKER=1 so that a
// missing engine fails rather than falls back. UMBRA_TEST_IMAGE names the image.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;

const collect = (dir, out) => {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.js")) out.push(relative(root, path));
  }
  return out;
};

// Every test of these files runs in containers mode: together they start, halt, pause
// and restart NATS and Redis containers, run a cluster of them, and check the image.
const CONTAINER_SUITE = [
  "test/dist/e2e/harness.test.js",
  "test/dist/e2e/bus-outage.test.js",
  "test/dist/e2e/redis-stall.test.js",
  "test/dist/e2e/elastic-shards.test.js",
  "test/dist/e2e/onenet-image.test.js",
  "test/dist/containers/image.test.js",
  "test/dist/containers/compose.test.js",
];

const args = process.argv.slice(2);
const containers = args.includes("--containers");
const nodeArgs = args.filter((arg) => arg !== "--containers");
const env = { ...process.env };
if (containers) env.UMBRA_TEST_DOCKER = "1";

const files = [];
for (const group of ["packages", "services"]) {
  const base = join(root, group);
  if (!existsSync(base)) continue;
  for (const workspace of readdirSync(base).sort())
    collect(join(base, workspace, "dist", "test"), files);
}
collect(join(root, "test", "dist"), files);

if (containers) {
  const missing = CONTAINER_SUITE.filter((file) => !files.includes(file));
  if (missing.length > 0) {
    console.error(
      `run-tests: the container suite names files that were not built: ${missing.join(", ")}`,
    );
    process.exit(1);
  }
  files.splice(0, files.length, ...CONTAINER_SUITE);
}

if (files.length === 0) {
  console.error("run-tests: no compiled test files found; did the build run?");
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-reporter=spec", ...nodeArgs, ...files],
  { cwd: root, stdio: "inherit", env },
);
process.exit(result.status ?? 1);

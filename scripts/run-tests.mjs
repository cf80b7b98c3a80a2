#!/usr/bin/env node
// Runs every compiled test file of the repository with node's test runner, so that
// `npm test` is one command whose closing summary CI reads. Tests are compiled by
// `tsc -b` (npm's pretest) into each workspace's dist/test and into test/dist.
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

const files = [];
for (const group of ["packages", "services"]) {
  const base = join(root, group);
  if (!existsSync(base)) continue;
  for (const workspace of readdirSync(base).sort())
    collect(join(base, workspace, "dist", "test"), files);
}
collect(join(root, "test", "dist"), files);

if (files.length === 0) {
  console.error("run-tests: no compiled test files found; did the build run?");
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-reporter=spec", ...process.argv.slice(2), ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);

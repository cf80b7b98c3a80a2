#!/usr/bin/env node
// Summarises a V8 CPU profile (`node --cpu-prof`): self time by function and by
// package/file, so a closing note can say where the time goes.
// Usage: node scripts/profile-summary.mjs <file.cpuprofile> [top=25]
import { readFileSync } from "node:fs";

const [file, topText = "25"] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node scripts/profile-summary.mjs <file.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topText);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++)
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
let total = 0;
for (const t of self.values()) total += t;

const where = (url) => {
  if (url === "") return "(native/vm)";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const u = /\/(packages|services)\/([^/]+)\//.exec(url);
  if (u) return `@umbra/${u[2]}`;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  return url;
};
const fns = new Map();
const pkgs = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const name = cf.functionName || "(anonymous)";
  const key = `${name} ${where(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;
  fns.set(key, (fns.get(key) ?? 0) + t);
  const pkg = ["(garbage collector)", "(program)", "(idle)"].includes(name) ? name : where(cf.url);
  pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)} %`;
console.log(`total sampled ${(total / 1e6).toFixed(2)} s`);
console.log("\nby package / file (self time)");
for (const [k, t] of [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(t)}  ${k}`);
console.log("\nby function (self time)");
for (const [k, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(t)}  ${k}`);

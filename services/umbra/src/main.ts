#!/usr/bin/env node
/**
 * `umbra <edge|shard|reply|api|all>`: the one entry point of every deployable process.
 * `npm start` runs `umbra all`, every service in one process, for local use.
 */
import { createShadow } from "@umbra/core";

const VERSION = "0.1.0";

/** The deployable services; each becomes runnable as it lands. */
const SERVICES = ["edge", "shard", "reply", "api"] as const;
type Service = (typeof SERVICES)[number];

const usage = `Usage: umbra <command>

Commands:
  all        run every service in one process (what \`npm start\` does)
  edge       run the MQTT edge
  shard      run a shard (device actors)
  reply      run the reply fan-out
  api        run the HTTP API
  version    print the version
  help       print this help`;

const notYet = (service: Service | "all"): number => {
  const which =
    service === "all" ? "The edge, shard, reply and api services" : `The ${service} service`;
  console.log(`Umbra ${VERSION}
The shadow engine (@umbra/core) is built and tested.
${which} ${service === "all" ? "are" : "is"} not in this build yet; this command will start ${service === "all" ? "them" : "it"} once ${service === "all" ? "they land" : "it lands"}.
Measure the engine meanwhile: npm run bench`);
  return service === "all" ? 0 : 1;
};

const main = (argv: readonly string[]): number => {
  const [command = "all", ...rest] = argv;
  if (rest.length > 0) {
    console.error(`umbra: unexpected argument '${rest[0]}'\n\n${usage}`);
    return 2;
  }
  switch (command) {
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return 0;
    case "version":
    case "--version":
      console.log(VERSION);
      return 0;
    case "all":
      // Proves the engine loads in this process, so a broken build fails here.
      createShadow("umbra", "self-check", Date.now());
      return notYet("all");
    default:
      if ((SERVICES as readonly string[]).includes(command)) return notYet(command as Service);
      console.error(`umbra: unknown command '${command}'\n\n${usage}`);
      return 2;
  }
};

process.exitCode = main(process.argv.slice(2));

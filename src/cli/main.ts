#!/usr/bin/env node
// The `burrow` entry point: registers the commands (loaded lazily) and runs one.
import { Cli } from "clipanion";
import type { CommandClass } from "clipanion";
import { reportError } from "./base.js";
import type { BurrowContext } from "./base.js";
import { VersionCommand } from "./version.js";
import { HelpCommand } from "./help.js";
import { ShowconfCommand } from "./showconf.js";
// import { PullCommand } from "./pull.js";
// import { ImagesCommand } from "./images.js";
// import { RmiCommand } from "./rmi.js";
// import { TagCommand } from "./tag.js";
// import { InspectCommand } from "./inspect.js";
// import { VerifyCommand } from "./verify.js";
// import { LoginCommand } from "./login.js";
// import { LogoutCommand } from "./logout.js";
import { packageVersion } from "../package-info.js";

const commands: CommandClass<BurrowContext>[] = [
  HelpCommand,
  VersionCommand,
  ShowconfCommand,
  //   PullCommand,
  //   ImagesCommand,
  //   RmiCommand,
  //   TagCommand,
  //   InspectCommand,
  //   VerifyCommand,
  //   LoginCommand,
  //   LogoutCommand,
];

/** Options valid on every command; udocker users put them before the command name. */
const GLOBAL_FLAGS = new Set(["-D", "--debug", "-q", "--quiet", "--insecure"]);

/** Moves global options written before the command name (`burrow --repo X pull`) after it. */
export function hoistGlobalOptions(argv: string[]): string[] {
  const globals: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (GLOBAL_FLAGS.has(a) || a.startsWith("--repo=")) {
      globals.push(a);
      i++;
    } else if (a === "--repo" && i + 1 < argv.length) {
      globals.push(a, argv[i + 1]!);
      i += 2;
    } else {
      break;
    }
  }
  if (globals.length === 0 || i >= argv.length) return argv;
  const rest = argv.slice(i);
  // The command path is the leading words that are not options.
  let pathLen = 0;
  while (pathLen < rest.length && !rest[pathLen]!.startsWith("-") && pathLen < 1) pathLen++;
  return [...rest.slice(0, pathLen), ...globals, ...rest.slice(pathLen)];
}

async function main(): Promise<void> {
  const cli = new Cli<BurrowContext>({
    binaryLabel: "burrow",
    binaryName: "burrow",
    binaryVersion: packageVersion(),
    enableColors: false,
  });
  for (const c of commands) cli.register(c);
  const argv = hoistGlobalOptions(process.argv.slice(2));
  const debug = argv.includes("-D") || argv.includes("--debug");
  const context: BurrowContext = { ...Cli.defaultContext, env: process.env };
  let command;
  try {
    command = argv.length === 0 ? cli.process(["help"], context) : cli.process(argv, context);
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0] ?? String(err);
    process.stderr.write(`burrow: ${msg.replace(/^Unknown Syntax Error: /, "")}; run 'burrow help'\n`);
    if (debug) reportError(err, process.stderr, true);
    process.exitCode = 125;
    return;
  }
  process.exitCode = await cli.run(command, context);
}

process.on("uncaughtException", (err) => {
  process.exitCode = reportError(
    err,
    process.stderr,
    process.argv.includes("--debug") || process.argv.includes("-D"),
  );
  process.exit();
});
process.on("unhandledRejection", (err) => {
  process.exitCode = reportError(
    err,
    process.stderr,
    process.argv.includes("--debug") || process.argv.includes("-D"),
  );
  process.exit();
});

await main();

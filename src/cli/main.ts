#!/usr/bin/env node
// The `burrow` entry point: registers the commands (loaded lazily) and runs one.
import { Cli } from "clipanion";
import type { CommandClass } from "clipanion";
import { reportError } from "./base.js";
import type { BurrowContext } from "./base.js";
import { VersionCommand } from "./version.js";
import { HelpCommand } from "./help.js";
import { ShowconfCommand } from "./showconf.js";
import { PullCommand } from "./pull.js";
import { ImagesCommand } from "./images.js";
import { RmiCommand } from "./rmi.js";
import { TagCommand } from "./tag.js";
import { InspectCommand } from "./inspect.js";
import { VerifyCommand } from "./verify.js";
import { LoginCommand } from "./login.js";
import { LogoutCommand } from "./logout.js";
import { InfoCommand } from "./info.js";
import { RunCommand } from "./run.js";
import { InstallCommand } from "./install.js";
import { SetupCommand } from "./setup.js";
import { packageVersion } from "../package-info.js";
import { hoistGlobalOptions } from "./hoist.js";

const commands: CommandClass<BurrowContext>[] = [
  HelpCommand,
  VersionCommand,
  ShowconfCommand,
  PullCommand,
  ImagesCommand,
  RmiCommand,
  TagCommand,
  InspectCommand,
  VerifyCommand,
  LoginCommand,
  LogoutCommand,
  InfoCommand,
  RunCommand,
  InstallCommand,
  SetupCommand,
];

/** One line for a command line clipanion could not parse, saying what to do next. */
function describeParseError(err: unknown, argv: string[]): string {
  const known = new Set(commands.flatMap((c) => (c.paths ?? []).map((p) => p[0])));
  const msg = ((err as Error).message ?? String(err)).replace(/^Unknown Syntax Error: /, "");
  const first = msg.split("\n")[0] ?? msg;
  const word = argv.find((a) => !a.startsWith("-"));
  if (/Command not found/.test(first) && word !== undefined && known.has(word)) {
    return `wrong arguments for "${word}": run 'burrow ${word} --help' for its usage`;
  }
  if (/Command not found/.test(first)) {
    return `unknown command "${word ?? argv.join(" ")}": run 'burrow help' for the list of commands`;
  }
  const cmd = word ? ` ${word}` : "";
  return `${first.replace(/\.$/, "")}: run 'burrow${cmd} --help' for its usage`;
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
    process.stderr.write(`burrow: ${describeParseError(err, argv)}\n`);
    if (debug) reportError(err, process.stderr, true);
    process.exitCode = 125;
    return;
  }
  process.exitCode = await cli.run(command, context);
}

// A closed pipe on stdout (burrow images | head) is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

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

#!/usr/bin/env node
// The `burrow` entry point: loads the command named on the command line and runs it; clipanion's full
// parser (every command registered) is built only for help, usage errors and forms the direct reader leaves alone.
import { Cli } from "clipanion";
import { BurrowCli } from "./burrow-cli.js";
import { commands, loadAllCommands } from "./command-table.js";
import { failureStatusOf, reportError } from "./base.js";
import type { BurrowContext } from "./base.js";
import { runWithoutParser } from "./fast-run.js";
import { packageVersion } from "../package-info.js";
import { helpPage } from "./help-page.js";
import { hoistGlobalOptions } from "./hoist.js";
import { printable, printableStream } from "./printable.js";

/** One line for a command line clipanion could not parse, saying what to do next. */
function describeParseError(err: unknown, argv: string[]): string {
  const known = new Set(Object.keys(commands));
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
  const cli = new BurrowCli({
    binaryLabel: "burrow",
    binaryName: "burrow",
    binaryVersion: packageVersion(),
    enableColors: false,
  });
  const argv = hoistGlobalOptions(process.argv.slice(2));
  const debug = argv.includes("-D") || argv.includes("--debug");
  // What a command prints for people goes through printableStream: control characters are shown escaped.
  const context: BurrowContext = {
    ...Cli.defaultContext,
    stdout: printableStream(process.stdout),
    stderr: printableStream(process.stderr),
    env: process.env,
  };
  // Help without clipanion's parser, whose compilation for every command is most of what a help costs.
  const page = helpPage(argv, Object.keys(commands));
  if (page === "list") {
    for (const c of await loadAllCommands()) cli.register(c);
    context.stdout.write(cli.usage(null));
    return;
  }
  if (page !== undefined) {
    // The command and `help`, whose options are the global ones that the page names apart.
    const commandClass = await commands[page]!();
    cli.register(await commands.help!());
    cli.register(commandClass);
    context.stdout.write(cli.usage(commandClass, { detailed: true }));
    return;
  }
  // `burrow NAME ...` (help aside, which lists every command): load that command alone and, where the
  // command line is plain, run it without building clipanion's parser (the cost grows with every command).
  const word = argv[0];
  const named = word !== undefined && word !== "help" && Object.hasOwn(commands, word) ? word : undefined;
  if (named !== undefined) {
    const commandClass = await commands[named]!();
    const status = await runWithoutParser(cli, commandClass, [named], argv.slice(1), context);
    if (status !== undefined) {
      process.exitCode = status;
      return;
    }
  }
  for (const c of await loadAllCommands()) cli.register(c);
  let command;
  try {
    command = argv.length === 0 ? cli.process(["help"], context) : cli.process(argv, context);
  } catch (err) {
    process.stderr.write(`burrow: ${printable(describeParseError(err, argv))}\n`);
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

/**
 * The status of a failure that escaped the command: 125 for run and exec, else 1 (DESIGN.md). The command
 * words are the first ones that are not options, the value of `--repo DIR` skipped (`burrow --repo DIR run`
 * is a run, `burrow container exec` an exec).
 */
const escapedStatus = (): number => {
  const argv = process.argv.slice(2);
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    if (argv[i] === "--repo") i++;
    else if (!argv[i]!.startsWith("-")) words.push(argv[i]!);
  }
  return failureStatusOf(words);
};

process.on("uncaughtException", (err) => {
  process.exitCode = reportError(
    err,
    process.stderr,
    process.argv.includes("--debug") || process.argv.includes("-D"),
    escapedStatus(),
  );
  process.exit();
});
process.on("unhandledRejection", (err) => {
  process.exitCode = reportError(
    err,
    process.stderr,
    process.argv.includes("--debug") || process.argv.includes("-D"),
    escapedStatus(),
  );
  process.exit();
});

void main();

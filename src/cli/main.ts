#!/usr/bin/env node
// The `burrow` entry point: loads the command named on the command line and runs it; clipanion's full
// parser (every command registered) is built only for help, usage errors and forms the direct reader leaves alone.
import { Cli } from "clipanion";
import type { CommandClass } from "clipanion";
import { failureStatusOf, reportError } from "./base.js";
import type { BurrowContext } from "./base.js";
import { runWithoutParser } from "./fast-run.js";
import { packageVersion } from "../package-info.js";
import { hoistGlobalOptions } from "./hoist.js";
import { printable, printableStream } from "./printable.js";

type Loader = () => Promise<CommandClass<BurrowContext>>;

/** The commands by name (the file under src/cli/ that holds each), each imported only when it is used. */
const commands: Record<string, Loader> = {
  help: async () => (await import("./help.js")).HelpCommand,
  version: async () => (await import("./version.js")).VersionCommand,
  showconf: async () => (await import("./showconf.js")).ShowconfCommand,
  pull: async () => (await import("./pull.js")).PullCommand,
  images: async () => (await import("./images.js")).ImagesCommand,
  rmi: async () => (await import("./rmi.js")).RmiCommand,
  tag: async () => (await import("./tag.js")).TagCommand,
  inspect: async () => (await import("./inspect.js")).InspectCommand,
  verify: async () => (await import("./verify.js")).VerifyCommand,
  login: async () => (await import("./login.js")).LoginCommand,
  logout: async () => (await import("./logout.js")).LogoutCommand,
  info: async () => (await import("./info.js")).InfoCommand,
  run: async () => (await import("./run.js")).RunCommand,
  install: async () => (await import("./install.js")).InstallCommand,
  setup: async () => (await import("./setup.js")).SetupCommand,
  export: async () => (await import("./export.js")).ExportCommand,
  import: async () => (await import("./import.js")).ImportCommand,
  mkrepo: async () => (await import("./mkrepo.js")).MkrepoCommand,
  save: async () => (await import("./save.js")).SaveCommand,
  load: async () => (await import("./load.js")).LoadCommand,
  create: async () => (await import("./create.js")).CreateCommand,
  ps: async () => (await import("./ps.js")).PsCommand,
  rm: async () => (await import("./rm.js")).RmCommand,
  name: async () => (await import("./name.js")).NameCommand,
  rmname: async () => (await import("./rmname.js")).RmnameCommand,
  rename: async () => (await import("./rename.js")).RenameCommand,
  clone: async () => (await import("./clone.js")).CloneCommand,
  protect: async () => (await import("./protect.js")).ProtectCommand,
  unprotect: async () => (await import("./unprotect.js")).UnprotectCommand,
  exec: async () => (await import("./exec.js")).ExecCommand,
  logs: async () => (await import("./logs.js")).LogsCommand,
  stop: async () => (await import("./stop.js")).StopCommand,
  __supervise: async () => (await import("./supervise.js")).SuperviseCommand,
  search: async () => (await import("./search.js")).SearchCommand,
};

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
  const cli = new Cli<BurrowContext>({
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
  for (const c of await Promise.all(Object.values(commands).map((load) => load()))) cli.register(c);
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

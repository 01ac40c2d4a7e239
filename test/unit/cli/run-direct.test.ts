import { test } from "node:test";
import assert from "node:assert/strict";
import { Cli } from "clipanion";
import type { BurrowContext } from "../../../src/cli/base.js";
import { hoistGlobalOptions } from "../../../src/cli/hoist.js";
import { parseRunCommandLine } from "../../../src/cli/run-direct.js";
import { commandWord } from "../../../src/cli/command-word.js";
import { RunCommand } from "../../../src/cli/run.js";

const context: BurrowContext = { ...Cli.defaultContext, env: {} };

/** clipanion's parse of `burrow ARGV` (global options hoisted as src/cli/main.ts does), or "refused". */
function clipanionParse(argv: string[]): Record<string, unknown> | "refused" {
  const cli = new Cli<BurrowContext>({ binaryName: "burrow" });
  cli.register(RunCommand);
  try {
    const command = cli.process(hoistGlobalOptions(argv), context);
    if (!(command instanceof RunCommand)) return "refused";
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(command)) {
      if (!["context", "cli", "path", "help"].includes(k)) out[k] = v;
    }
    return out;
  } catch {
    return "refused";
  }
}

/** The direct reader's parse of `burrow ARGV` in the same shape (globals and fields together). */
function directParse(argv: string[]): Record<string, unknown> | undefined {
  const parsed = parseRunCommandLine(argv);
  return parsed === undefined ? undefined : { ...parsed.globals, ...parsed.fields };
}

const lines: string[][] = [
  ["run", "alpine"],
  ["run", "alpine", "/bin/true"],
  ["run", "alpine", "echo", "-e", "--rm", "x"],
  ["run", "--rm", "--name", "c1", "alpine", "sh", "-c", "exit 7"],
  ["run", "-v", "/a:/b", "--volume=/c:/d:ro", "-v", "/e", "alpine"],
  ["run", "-e", "A=1", "--env", "B", "--env-file", "f", "-w", "/tmp", "-u", "1000:1000", "alpine", "id"],
  ["run", "--entrypoint", "", "alpine", "echo"],
  ["run", "--entrypoint=", "alpine"],
  ["run", "--pull", "never", "--platform", "linux/arm64", "alpine"],
  ["run", "--pull=always", "alpine"],
  ["run", "-it", "alpine", "sh"],
  ["run", "-ti", "--hostauth", "--nosysdirs", "--bindhome", "alpine"],
  ["run", "--engine", "userns", "--hostname", "h", "alpine"],
  ["run", "--location", "/r", "/bin/sh"],
  ["run", "-D", "-q", "--repo", "/s", "--insecure", "alpine"],
  ["run", "--repo=/s", "alpine", "--", "echo"],
  ["run", "alpine", "--help"],
  ["run", "alpine", "-h"],
  ["run", "-e", "X", "-e", "Y", "alpine"],
  ["run", "--name", "a", "--name", "b", "alpine"],
  ["run", "-", "alpine"],
  ["--repo", "/s", "run", "alpine", "true"],
  ["-D", "--insecure", "run", "-q", "alpine"],
  ["--repo=/s", "-q", "run", "--rm", "alpine"],
  ["run", "--offline", "--rm", "alpine"],
  ["--offline", "run", "alpine", "true"],
  // `--` ends the options, as a build's RUN step writes its command (src/builder/run-step.ts).
  ["run", "--", "alpine"],
  ["run", "--rm", "--", "alpine", "--", "echo"],
  ["run", "--location", "/r", "--", "-x"],
  ["--repo=/s", "--debug", "run", "--location", "/r", "--network", "host", "-w", "/", "--", "sh", "-c", "x"],
];

test("burrow run: the direct reader reads each command line as clipanion does", () => {
  for (const argv of lines) {
    const direct = directParse(argv);
    assert.ok(direct, `the direct reader takes burrow ${argv.join(" ")}`);
    assert.deepEqual(direct, clipanionParse(argv), `burrow ${argv.join(" ")}`);
  }
});

const leftToClipanion: string[][] = [
  [],
  ["run"],
  ["run", "--help"],
  ["run", "-h"],
  ["--help", "run", "alpine"],
  ["run", "--rm=true", "alpine"],
  ["run", "--no-rm", "alpine"],
  ["run", "--bogus", "alpine"],
  ["run", "-x", "alpine"],
  ["run", "-iv", "/a", "alpine"],
  ["run", "-e=A", "alpine"],
  ["run", "-e", "-A", "alpine"],
  ["run", "--name"],
  ["run", "--rm", "--"],
  ["--rm", "run", "alpine"],
  ["pull", "alpine"],
  ["images"],
];

test("burrow run: help, errors, other commands and unusual forms go to the whole CLI", () => {
  for (const argv of leftToClipanion) {
    assert.equal(parseRunCommandLine(argv), undefined, `burrow ${argv.join(" ")}`);
  }
});

test("the launcher finds the command name past global options and their values", () => {
  assert.equal(commandWord(["run", "alpine"]), "run");
  assert.equal(commandWord(["--repo", "/s", "run", "alpine"]), "run");
  assert.equal(commandWord(["--repo=/s", "-D", "images"]), "images");
  assert.equal(commandWord(["-q"]), undefined);
});

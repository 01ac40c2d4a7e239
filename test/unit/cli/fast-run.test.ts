import { test } from "node:test";
import assert from "node:assert/strict";
import { Cli, Command, Option } from "clipanion";
import type { CommandClass } from "clipanion";
import type { BurrowContext } from "../../../src/cli/base.js";
import { buildDirect, readDeclarations } from "../../../src/cli/fast-run.js";
import { RunCommand } from "../../../src/cli/run.js";
import { VersionCommand } from "../../../src/cli/version.js";
import { PullCommand } from "../../../src/cli/pull.js";
import { PushCommand } from "../../../src/cli/push.js";

const context: BurrowContext = { ...Cli.defaultContext, env: {} };

/** The option fields of a parsed command (clipanion's bookkeeping left out). */
function fields(command: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(command)) {
    if (!["context", "cli", "path", "help"].includes(k)) out[k] = v;
  }
  return out;
}

/** clipanion's own parse of `path argv`, or the error's name when it refuses it. */
function clipanionParse(commandClass: CommandClass<BurrowContext>, path: string, argv: string[]): unknown {
  const cli = new Cli<BurrowContext>({ binaryName: "burrow" });
  cli.register(commandClass);
  try {
    const command = cli.process([path, ...argv], context);
    return command instanceof commandClass ? fields(command) : "help";
  } catch (err) {
    return (err as Error).name;
  }
}

const runLines: string[][] = [
  ["alpine"],
  ["alpine", "/bin/true"],
  ["alpine", "echo", "-e", "--rm", "x"],
  ["--rm", "--name", "c1", "alpine", "sh", "-c", "exit 7"],
  ["-v", "/a:/b", "--volume=/c:/d:ro", "-v", "/e", "alpine"],
  ["-e", "A=1", "--env", "B", "--env-file", "f", "-w", "/tmp", "-u", "1000:1000", "alpine", "id"],
  ["--entrypoint", "", "alpine", "echo"],
  ["--entrypoint=", "alpine"],
  ["--pull", "never", "--platform", "linux/arm64", "alpine"],
  ["-it", "alpine", "sh"],
  ["-ti", "--hostauth", "--nosysdirs", "--bindhome", "alpine"],
  ["--engine", "userns", "--hostname", "h", "alpine"],
  ["--location", "/r", "/bin/sh"],
  ["-D", "-q", "--repo", "/s", "--insecure", "alpine"],
  ["--repo=/s", "alpine", "--", "echo"],
  ["alpine", "--help"],
  ["alpine", "-h"],
  ["-e", "X", "-e", "Y", "alpine"],
  ["-", "alpine"],
  // `--` ends the options (a build's RUN step: src/builder/run-step.ts).
  ["--", "alpine"],
  ["--rm", "--", "alpine", "--", "echo"],
  ["--location", "/r", "--network", "host", "-w", "/", "--", "-x"],
];

test("burrow run: the direct reader fills RunCommand's fields exactly as clipanion does", () => {
  for (const argv of runLines) {
    const direct = buildDirect(RunCommand, ["run"], argv, context);
    assert.ok(direct, `the direct reader takes run ${argv.join(" ")}`);
    assert.deepEqual(fields(direct), clipanionParse(RunCommand, "run", argv), `run ${argv.join(" ")}`);
  }
});

const leftToClipanion: string[][] = [
  [],
  ["--help"],
  ["-h"],
  ["--rm=true", "alpine"],
  ["--no-rm", "alpine"],
  ["--bogus", "alpine"],
  ["-x", "alpine"],
  ["-iv", "/a", "alpine"],
  ["-e=A", "alpine"],
  ["-e", "-A", "alpine"],
  ["--name"],
  ["--rm", "--"],
];

test("burrow run: help, errors and unusual forms are left to clipanion", () => {
  for (const argv of leftToClipanion) {
    assert.equal(buildDirect(RunCommand, ["run"], argv, context), undefined, `run ${argv.join(" ")}`);
  }
});

test("commands with a plain layout run directly; options after a positional go to clipanion", () => {
  assert.deepEqual(
    fields(buildDirect(VersionCommand, ["version"], ["--short"], context)!),
    clipanionParse(VersionCommand, "version", ["--short"]),
  );
  assert.equal(buildDirect(VersionCommand, ["version"], ["extra"], context), undefined);
  assert.ok(readDeclarations(PullCommand));
  assert.equal(buildDirect(PullCommand, ["pull"], ["alpine", "-q"], context), undefined);
});

test("required options and flag-or-value options are left to clipanion", () => {
  class Required extends Command<BurrowContext> {
    static override paths = [["x"]];
    name = Option.String("--name", { required: true });
    async execute(): Promise<number> {
      return 0;
    }
  }
  class Tolerant extends Command<BurrowContext> {
    static override paths = [["y"]];
    color = Option.String("--color", { tolerateBoolean: true });
    async execute(): Promise<number> {
      return 0;
    }
  }
  assert.equal(readDeclarations(Required), undefined);
  assert.equal(readDeclarations(Tolerant), undefined);
});

test("an optional positional after the required ones (push IMAGE [DEST]) is filled as clipanion fills it", () => {
  const lines = [["img"], ["img", "reg/dest:1"], ["-q", "img", "reg/dest:1"], ["--quiet", "img"]];
  for (const argv of lines) {
    const direct = buildDirect(PushCommand, ["push"], argv, context);
    assert.ok(direct, `the direct reader takes push ${argv.join(" ")}`);
    assert.deepEqual(fields(direct), clipanionParse(PushCommand, "push", argv), `push ${argv.join(" ")}`);
  }
  // Too many or too few positionals, and options after them: clipanion says what is wrong.
  for (const argv of [[], ["a", "b", "c"], ["img", "-q"]]) {
    assert.equal(buildDirect(PushCommand, ["push"], argv, context), undefined, `push ${argv.join(" ")}`);
  }
  class OptionalFirst extends Command<BurrowContext> {
    static override paths = [["z"]];
    first = Option.String({ required: false });
    second = Option.String();
    async execute(): Promise<number> {
      return 0;
    }
  }
  assert.equal(readDeclarations(OptionalFirst), undefined);
});

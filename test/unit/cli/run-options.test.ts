// `burrow run`'s options are declared once (src/run/options.ts, and the global ones in src/cli/host.ts): each
// must reach clipanion's command, run.cjs's direct reader and the request the run path takes, so they cannot drift.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Cli } from "clipanion";
import type { CommandClass } from "clipanion";
import type { BurrowContext } from "../../../src/cli/base.js";
import { GLOBAL_OPTIONS } from "../../../src/cli/host.js";
import { parseRunCommandLine } from "../../../src/cli/run-direct.js";
import { readDeclarations } from "../../../src/cli/fast-run.js";
import { RunCommand } from "../../../src/cli/run.js";
import { CreateCommand } from "../../../src/cli/create.js";
import { ExecCommand } from "../../../src/cli/exec.js";
import { RUN_OPTIONS, requestFrom } from "../../../src/run/options.js";
import type { OptionDecl } from "../../../src/option-table.js";

const context: BurrowContext = { ...Cli.defaultContext, env: {} };

/** clipanion's parse of `burrow run ARGV IMAGE`: the command's fields. */
function clipanionRun(argv: string[]): Record<string, unknown> {
  const cli = new Cli<BurrowContext>({ binaryName: "burrow" });
  cli.register(RunCommand);
  const command = cli.process(["run", ...argv, "alpine"], context);
  assert.ok(command instanceof RunCommand, `burrow run ${argv.join(" ")} alpine`);
  return command as unknown as Record<string, unknown>;
}

/** Each way one option can be written, with the value it gives (a distinct one per option and name). */
function writings(key: string, o: OptionDecl): { argv: string[]; value: unknown }[] {
  return o.names.map((name) => {
    if (o.kind === "boolean") return { argv: [name], value: true };
    // --pull takes a policy; every other option takes its own marked value.
    const v = key === "pull" ? "always" : `${key}-via-${name}`;
    return { argv: [name, v], value: o.kind === "array" ? [v] : v };
  });
}

test("every run option reaches clipanion's RunCommand, the direct reader and the run request", () => {
  for (const [key, o] of Object.entries(RUN_OPTIONS) as [string, OptionDecl & { part: string }][]) {
    for (const { argv, value } of writings(key, o)) {
      const what = `burrow run ${argv.join(" ")} alpine`;
      assert.deepEqual(clipanionRun(argv)[key], value, `${what}: RunCommand.${key}`);
      const direct = parseRunCommandLine(["run", ...argv, "alpine"]);
      assert.ok(direct, `${what}: the direct reader takes it`);
      assert.deepEqual(
        (direct.fields as unknown as Record<string, unknown>)[key],
        value,
        `${what}: fields.${key}`,
      );
      const request = requestFrom(direct.fields, true) as unknown as Record<string, unknown>;
      const options = request.options as Record<string, unknown>;
      if (o.part === "request") assert.deepEqual(request[key], value, `${what}: request.${key}`);
      else if (o.part === "spec") assert.deepEqual(options[key], value, `${what}: request.options.${key}`);
      else assert.ok(!(key in request) && !(key in options), `${what}: accepted, and goes nowhere`);
    }
  }
});

test("every global option reaches clipanion's command and the direct reader", () => {
  for (const [key, o] of Object.entries(GLOBAL_OPTIONS) as [string, OptionDecl][]) {
    for (const { argv, value } of writings(key, o)) {
      assert.deepEqual(clipanionRun(argv)[key], value, `burrow run ${argv.join(" ")}: ${key}`);
      assert.deepEqual(
        (parseRunCommandLine(["run", ...argv, "alpine"])?.globals as Record<string, unknown> | undefined)?.[
          key
        ],
        value,
        `burrow run ${argv.join(" ")}: the direct reader's ${key}`,
      );
    }
  }
});

test("RunCommand declares exactly the table's options; create and exec take run's names for theirs", () => {
  const names = (c: CommandClass<BurrowContext>): string[] => [...readDeclarations(c)!.options.keys()].sort();
  const table = (...tables: Record<string, OptionDecl>[]): string[] =>
    tables.flatMap((t) => Object.values(t).flatMap((o) => [...o.names])).sort();
  assert.deepEqual(names(RunCommand), table(GLOBAL_OPTIONS, RUN_OPTIONS));
  const { name, platform, env, workdir, user, tty, interactive } = RUN_OPTIONS;
  assert.deepEqual(names(CreateCommand), table(GLOBAL_OPTIONS, { name, platform }));
  assert.deepEqual(names(ExecCommand), table(GLOBAL_OPTIONS, { env, workdir, user, tty, interactive }));
});

test("the request: COMMAND loses a leading --, -t needs a terminal on stdin, options absent are their defaults", () => {
  const parsed = parseRunCommandLine(["run", "-t", "alpine", "--", "echo", "hi"])!;
  const request = requestFrom(parsed.fields, false);
  assert.deepEqual(request.args, ["echo", "hi"]);
  assert.equal(request.options.tty, false);
  assert.equal(requestFrom(parsed.fields, true).options.tty, true);
  assert.equal(request.pull, "missing");
  assert.deepEqual([request.rm, request.detach, request.name], [false, false, undefined]);
  assert.deepEqual(request.options.volumes, []);
});

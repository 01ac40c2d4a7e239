// burrow's help: every command in one of the groups users think in, the global options printed once, and each
// command's page with its own options (the real command classes, registered as the CLI registers them).
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { BurrowCli } from "../../../src/cli/burrow-cli.js";
import { loadAllCommands } from "../../../src/cli/command-table.js";
import { HELP_GROUPS, helpPage } from "../../../src/cli/help-page.js";
import { PullCommand } from "../../../src/cli/pull.js";

const GLOBALS = ["--repo", "--debug", "--quiet", "--insecure", "--offline"];
let cli: BurrowCli;
before(async () => {
  cli = new BurrowCli({ binaryName: "burrow", binaryVersion: "9.9.9", enableColors: false });
  for (const c of await loadAllCommands()) cli.register(c);
});

/** How many times `needle` occurs in `text`. */
const count = (text: string, needle: string): number => text.split(needle).length - 1;

describe("burrow help", () => {
  test("lists every documented command once, under the groups in order, and no 'Other' group", () => {
    const out = cli.usage(null);
    const headers = out.split("\n").filter((l) => /^[A-Z]/.test(l) && !l.includes(":") && !l.includes("("));
    assert.deepEqual(
      headers,
      HELP_GROUPS.map((g) => g.title),
    );
    for (const def of cli.definitions()) {
      const name = def.usage.split(" ")[1]!;
      assert.equal(count(out, `\n  burrow ${name} `) + count(out, `\n  burrow ${name}\n`), 1, name);
    }
    const section = (title: string): string => out.slice(out.indexOf(`\n${title}\n`)).split("\n\n")[0]!;
    assert.match(section("Images"), /^ {2}burrow pull <IMAGE> +Pull an image/m);
    assert.match(section("Containers"), /^ {2}burrow ps +List the containers$/m);
    assert.match(section("Running"), /^ {2}burrow run <IMAGE> \.\.\. +Run a command/m);
    assert.match(section("Registries"), /^ {2}burrow login \[REGISTRY\]/m);
    assert.match(section("Set-up"), /^ {2}burrow info +Show the platform/m);
  });

  test("prints each global option once, in its own section, and on no command's line", () => {
    const out = cli.usage(null);
    for (const g of GLOBALS) assert.equal(count(out, g), 1, g);
    assert.match(
      out,
      /\nGlobal options \(before or after the command\)\n {2}--repo VALUE +Use DIR as the store/,
    );
    for (const line of out.split("\n").filter((l) => l.startsWith("  burrow "))) {
      assert.doesNotMatch(line, /--|#0/, line);
    }
    assert.ok(out.split("\n").length < 64, "the list fits a screen or two");
  });

  test("a command's page shows its own options and names the global ones on one line", () => {
    const pull = cli.definitions().find((d) => d.usage.startsWith("burrow pull "))!;
    const out = cli.usage(PullCommand, { detailed: true });
    assert.equal(pull.description?.trim(), out.split("\n")[0]);
    assert.match(out, /^Usage: burrow pull \[OPTIONS\] <IMAGE>$/m);
    const options = out.slice(out.indexOf("\nOptions\n"), out.indexOf("\nGlobal options:"));
    assert.match(options, /^ {2}--platform VALUE +Platform to pull/m);
    assert.match(options, /^ {2}--registry VALUE +Registry to pull from/m);
    for (const g of GLOBALS) assert.ok(!options.includes(g), `${g} is not among pull's own options`);
    assert.match(out, /^Global options: --repo VALUE, -D\/--debug, -q\/--quiet, --insecure, --offline/m);
    assert.match(out, /\nExamples\n\nPull Alpine from Docker Hub\n {2}\$ burrow pull alpine\n/);
  });
});

describe("helpPage: the help a command line asks for, read without clipanion", () => {
  const names = ["help", "pull", "run", "__supervise"];
  test("the list for burrow, burrow help, --help and -h", () => {
    for (const argv of [[], ["help"], ["--help"], ["-h"]])
      assert.equal(helpPage(argv, names), "list", argv.join(" "));
  });
  test("one command's page for NAME --help, NAME -h and help NAME", () => {
    assert.equal(helpPage(["pull", "--help"], names), "pull");
    assert.equal(helpPage(["pull", "-h"], names), "pull");
    assert.equal(helpPage(["help", "run"], names), "run");
  });
  test("anything else is left to clipanion (unknown names, hidden commands, more words)", () => {
    for (const argv of [
      ["help", "frobnicate"],
      ["frobnicate", "--help"],
      ["__supervise", "--help"],
      ["pull", "alpine", "--help"],
      ["help", "image", "ls"],
      ["pull", "alpine"],
      ["--repo", "/r", "help"],
    ]) {
      assert.equal(helpPage(argv, names), undefined, argv.join(" "));
    }
  });
});

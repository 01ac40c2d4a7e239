// burrow's clipanion CLI: clipanion's parser and runner, with burrow's own help pages (src/cli/help-page.ts).
import { Cli } from "clipanion";
import type { Command, CommandClass } from "clipanion";
import type { BurrowContext } from "./base.js";
import { commandList, commandName, commandPage, globalOptions } from "./help-page.js";

/** The CLI whose help lists the commands by group and the global options once. */
export class BurrowCli extends Cli<BurrowContext> {
  /** The command list (no command), one command's page (`detailed`), else clipanion's one-line usage. */
  override usage(
    command?: CommandClass<BurrowContext> | Command<BurrowContext> | null,
    opts?: { colored?: boolean; detailed?: boolean; prefix?: string },
  ): string {
    const defs = this.definitions();
    if (command === null || command === undefined) return commandList(defs, this.binaryVersion ?? "");
    const commandClass =
      typeof command === "function" ? command : (command.constructor as CommandClass<BurrowContext>);
    const name = commandClass.paths?.[0]?.[0];
    const def = defs.find((d) => commandName(d) === name);
    if (opts?.detailed !== true || def === undefined) return super.usage(command, opts);
    return commandPage(def, globalOptions(defs));
  }
}

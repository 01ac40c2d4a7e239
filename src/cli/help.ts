// `burrow help [COMMAND...]`: the list of commands, or one command's usage.
import { Option, UsageError } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Prints the command list, or the usage of the command named. */
export class HelpCommand extends BurrowCommand {
  static override paths = [["help"], ["-h"], ["--help"]];
  static override usage = BurrowCommand.Usage({
    description: "Show the commands, or how to use one",
    examples: [
      ["List the commands", "$0 help"],
      ["Show how to use pull", "$0 help pull"],
    ],
  });

  command = Option.Rest({ name: "command" });

  async run(): Promise<number> {
    if (this.command.length === 0) {
      this.context.stdout.write(this.cli.usage(null));
      return 0;
    }
    // A name that is no command: the one line a usage error gets, not clipanion's list of candidates.
    try {
      this.cli.process([...this.command, "--help"], this.context);
    } catch {
      throw new UsageError(
        `unknown command "${this.command.join(" ")}": run 'burrow help' for the list of commands`,
      );
    }
    return this.cli.run([...this.command, "--help"]);
  }
}

// `burrow version`: prints burrow's version, Node's, and the platform.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { packageVersion } from "../package-info.js";

/** Prints the version of burrow and of the runtime under it. */
export class VersionCommand extends BurrowCommand {
  static override paths = [["version"], ["-V"], ["--version"]];
  static override usage = BurrowCommand.Usage({
    description: "Print burrow's version",
    examples: [
      ["Print the version", "$0 version"],
      ["Print only the version number", "$0 version --short"],
    ],
  });

  short = Option.Boolean("--short", false, { description: "Print only the version number" });

  async run(): Promise<number> {
    const version = packageVersion();
    if (this.short) {
      this.context.stdout.write(`${version}\n`);
    } else {
      this.context.stdout.write(
        `burrow ${version}\nnode ${process.version}\nplatform ${process.platform}/${process.arch}\n`,
      );
    }
    return 0;
  }
}

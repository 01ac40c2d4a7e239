// `burrow rename`: replaces a container's name.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Renames a container: NAME (or the first name of the container with that id) becomes NEW. */
export class RenameCommand extends BurrowCommand {
  static override paths = [["rename"], ["container", "rename"]];
  static override usage = BurrowCommand.Usage({
    description: "Rename a container",
    examples: [["Rename dev to build", "$0 rename dev build"]],
  });

  container = Option.String({ name: "NAME" });
  next = Option.String({ name: "NEW" });

  async run(): Promise<number> {
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(await this.store());
    await containers.rename(this.container, this.next);
    return 0;
  }
}

// `burrow rmname`: takes a name away from a container.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Removes NAME; the container itself stays (by id and its other names). */
export class RmnameCommand extends BurrowCommand {
  static override paths = [["rmname"]];
  static override usage = BurrowCommand.Usage({
    description: "Remove a name from a container (the container stays)",
    examples: [["Forget the name dev", "$0 rmname dev"]],
  });

  name = Option.String({ name: "NAME" });

  async run(): Promise<number> {
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(await this.store());
    await containers.removeName(this.name);
    return 0;
  }
}

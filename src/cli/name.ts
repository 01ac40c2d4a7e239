// `burrow name`: gives a container one more name.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Adds NAME to a container (udocker allows several names per container). */
export class NameCommand extends BurrowCommand {
  static override paths = [["name"]];
  static override usage = BurrowCommand.Usage({
    description: "Give a container a name",
    details:
      "The container keeps its other names; `burrow rmname` takes one away, `burrow rename` replaces one.",
    examples: [["Name a container dev", "$0 name 3f57d9401f8d dev"]],
  });

  container = Option.String({ name: "CONTAINER" });
  name = Option.String({ name: "NAME" });

  async run(): Promise<number> {
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(await this.store());
    await containers.addName(this.container, this.name);
    return 0;
  }
}

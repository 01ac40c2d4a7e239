// `burrow clone`: a new container holding a copy of another's own layer.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Copies a container (its changes, its engine setting) into a new one and prints the new id. */
export class CloneCommand extends BurrowCommand {
  static override paths = [["clone"]];
  static override usage = BurrowCommand.Usage({
    description: "Copy a container into a new one and print its id",
    details:
      "The new container starts with the files the old one has now and changes independently from then on; both share the image.",
    examples: [["Clone dev as dev2", "$0 clone --name dev2 dev"]],
  });

  name = Option.String("--name", { description: "Name of the new container" });
  container = Option.String({ name: "CONTAINER" });

  async run(): Promise<number> {
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(await this.store());
    const rec = await containers.clone(this.container, this.name);
    this.context.stdout.write(`${rec.id}\n`);
    return 0;
  }
}

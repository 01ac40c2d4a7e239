// `burrow unprotect`: lifts the protection `burrow protect` set.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Lets `rm`/`rmi` remove a container or an image again. */
export class UnprotectCommand extends BurrowCommand {
  static override paths = [["unprotect"]];
  static override usage = BurrowCommand.Usage({
    description: "Let a protected container or image be removed again",
    details: "Containers are looked up first, then images.",
    examples: [["Unprotect a container", "$0 unprotect dev"]],
  });

  target = Option.String({ name: "CONTAINER|IMAGE" });

  async run(): Promise<number> {
    const { setProtection } = await import("./protect.js");
    return setProtection(this, this.target, false);
  }
}

// `burrow rm`: removes containers and their writable layers.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Removes one or more containers; a protected one is refused, a running one needs -f. */
export class RmCommand extends BurrowCommand {
  static override paths = [["rm"], ["container", "rm"]];
  static override usage = BurrowCommand.Usage({
    description: "Remove containers",
    details: `
      Each container disappears at once (its folder is renamed aside, then deleted), so no half-removed container is ever listed. A protected container is refused (\`burrow unprotect\` it first); one that a run has mounted right now needs \`-f\`. The image stays in the store.
    `,
    examples: [
      ["Remove a container", "$0 rm dev"],
      ["Remove several", "$0 rm dev test 3f57d9401f8d"],
    ],
  });

  force = Option.Boolean("-f,--force", false, { description: "Remove a container even while a run uses it" });
  targets = Option.Rest({ name: "CONTAINER", required: 1 });

  async run(): Promise<number> {
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const { reportError } = await import("./base.js");
    let status = 0;
    for (const key of this.targets) {
      try {
        const rec = containers.resolve(key);
        containers.remove(rec.id, { force: this.force });
        this.context.stdout.write(`${key}\n`);
      } catch (err) {
        status = reportError(err, this.context.stderr, this.debug);
      }
    }
    return status;
  }
}

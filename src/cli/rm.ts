// `burrow rm`: removes containers and their writable layers.
import fs from "node:fs";
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Removes one or more containers; a protected one is refused, a running one needs -f. */
export class RmCommand extends BurrowCommand {
  static override paths = [["rm"], ["container", "rm"]];
  static override usage = BurrowCommand.Usage({
    description: "Remove containers",
    details: `
      Each container disappears at once (its folder is renamed aside, then deleted), so no half-removed container is ever listed. A protected container is refused (\`burrow unprotect\` it first); one that a run has mounted right now, or that runs detached (\`run -d\`), needs \`-f\`, which stops a detached one first (SIGKILL, as \`docker rm -f\`). The image stays in the store, unless \`rmi\` removed its name: it goes with its last container.
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
    const { runStatus, stateDir } = await import("../run/state.js");
    const { ConflictError } = await import("../errors.js");
    let status = 0;
    for (const key of this.targets) {
      try {
        const rec = containers.resolve(key);
        // A detached run (run -d) of it: -f stops it first (SIGKILL at once, as docker rm -f), else refuse.
        if (containers.isProtected(rec.id)) containers.remove(rec.id); // refuses, with the message to unprotect
        const run = runStatus(store.paths.root, rec.id);
        if (run.kind === "running") {
          if (!this.force) {
            throw new ConflictError(
              `container ${key} is running (pid ${run.pid}): 'burrow stop ${key}' first, or 'burrow rm -f ${key}'`,
            );
          }
          const { stopContainer } = await import("../run/stop.js");
          await stopContainer(store.paths.root, rec.id, 0);
        }
        containers.remove(rec.id, { force: this.force });
        fs.rmSync(stateDir(store.paths.root, rec.id), { recursive: true, force: true });
        this.context.stdout.write(`${key}\n`);
        // The image `rmi` removed while containers used it goes with the last of them.
        const { finishRemoval, removedImages } = await import("../store/holds.js");
        if (removedImages(store).has(rec.image) && (await finishRemoval(store, rec.image))) {
          this.info(
            `Deleted image ${rec.image.slice(0, 12)}: rmi removed its name, and its last container is gone`,
          );
        }
      } catch (err) {
        status = reportError(err, this.context.stderr, this.debug, this.failureStatus());
      }
    }
    return status;
  }
}

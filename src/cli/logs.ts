// `burrow logs`: the output of a container's detached runs.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Prints what a container started with `run -d` wrote to stdout and stderr; `-f` follows it until it exits. */
export class LogsCommand extends BurrowCommand {
  static override paths = [["logs"], ["container", "logs"]];
  static override usage = BurrowCommand.Usage({
    description: "Print the output of a detached container",
    details: `
      A container started with \`burrow run -d\` writes its stdout and stderr to a log file in the store (\`run/detached/<id>/log\`); each detached run starts a new log. \`-f\` keeps printing what it writes until it exits.
    `,
    examples: [
      ["Print the log", "$0 logs web"],
      ["Follow it", "$0 logs -f web"],
    ],
  });

  follow = Option.Boolean("-f,--follow", false, { description: "Keep printing until the container exits" });
  container = Option.String({ name: "CONTAINER" });

  async run(): Promise<number> {
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const rec = (await containersOf(store)).resolve(this.container);
    const fs = await import("node:fs");
    const { logPath, runStatus } = await import("../run/state.js");
    const file = logPath(store.paths.root, rec.id);
    let fd: number;
    try {
      fd = fs.openSync(file, "r");
    } catch {
      const { InvalidArgumentError } = await import("../errors.js");
      const label = rec.name ?? rec.id.slice(0, 12);
      throw new InvalidArgumentError(
        `container ${label} has no log: only detached runs keep one ('burrow run -d ${label} ...')`,
      );
    }
    const buf = Buffer.alloc(64 * 1024);
    /** Prints what the log holds past what was printed. */
    const drain = async (): Promise<void> => {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) return;
        const chunk = Buffer.from(buf.subarray(0, n));
        if (!this.context.stdout.write(chunk)) {
          await new Promise((r) => this.context.stdout.once("drain", r));
        }
      }
    };
    try {
      await drain();
      while (this.follow && runStatus(store.paths.root, rec.id).kind === "running") {
        await new Promise((r) => setTimeout(r, 200));
        await drain();
      }
      if (this.follow) await drain();
    } finally {
      fs.closeSync(fd);
    }
    return 0;
  }
}

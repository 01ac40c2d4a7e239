// `burrow stop`: ends detached containers, SIGTERM first, SIGKILL after a grace period.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Stops running containers as docker does: SIGTERM to the program, SIGKILL after `-t` seconds. */
export class StopCommand extends BurrowCommand {
  static override paths = [["stop"], ["container", "stop"]];
  static override usage = BurrowCommand.Usage({
    description: "Stop running containers",
    details: `
      Sends SIGTERM to the program of each container started with \`burrow run -d\` (through its engine), waits up to \`-t\` seconds (default 10) for it to exit, then kills the container with SIGKILL. It returns once the container and its clean-up are done, and prints each name as given. A container that is not running is left as it is.
    `,
    examples: [
      ["Stop a container", "$0 stop web"],
      ["Give it 2 seconds", "$0 stop -t 2 web"],
    ],
  });

  time = Option.String("-t,--time", "10", { description: "Seconds to wait before SIGKILL (default 10)" });
  containers = Option.Rest({ name: "CONTAINER", required: 1 });

  async run(): Promise<number> {
    const { InvalidArgumentError } = await import("../errors.js");
    const seconds = Number(this.time);
    if (!/^\d+(\.\d+)?$/.test(this.time) || !Number.isFinite(seconds)) {
      throw new InvalidArgumentError(`invalid -t "${this.time}": give the seconds to wait, e.g. -t 10`);
    }
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const recs = this.containers.map((key) => containers.resolve(key));
    const { stopContainer } = await import("../run/stop.js");
    for (const [i, rec] of recs.entries()) {
      const outcome = await stopContainer(store.paths.root, rec.id, seconds * 1000);
      if (outcome === "not-running") this.warn(`container ${this.containers[i]} is not running`);
      this.context.stdout.write(`${this.containers[i]}\n`);
    }
    return 0;
  }
}

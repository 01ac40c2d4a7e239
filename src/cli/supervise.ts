// `burrow __supervise DIR`: the background process of `burrow run -d` (src/run/detach.ts); not for users.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Runs a detached request and records its state; started by `run -d` only (no usage: hidden from help). */
export class SuperviseCommand extends BurrowCommand {
  static override paths = [["__supervise"]];

  start = Option.String({ name: "DIR" });

  /** `run -d`'s own failure (its parent passes this status on): 125, as for `run`. */
  override failureStatus(): number {
    return 125;
  }

  async run(): Promise<number> {
    const { superviseRun } = await import("../run/detach.js");
    const { imageSource } = await import("./run-images.js");
    const images = imageSource(
      async (reference, platform) =>
        (await (await import("./pull.js")).pullReference(this, reference, platform)).image,
      async () => (await this.config()).stores,
    );
    return superviseRun(this, this.start, images);
  }
}

// `burrow run`: runs a command in an image (private writable layer) or a named container.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { withOptions } from "./declared-options.js";
import { RUN_OPTIONS } from "../run/options.js";

/** Runs a program in a container, docker-style; exits with the program's status. */
export class RunCommand extends withOptions(BurrowCommand, RUN_OPTIONS) {
  static override paths = [["run"]];
  static override usage = BurrowCommand.Usage({
    description: "Run a command in an image or a named container",
    details: `
      Runs COMMAND (or the image's ENTRYPOINT and CMD) with no root and no daemon. The image's rootfs is shared and stays read-only underneath; a run writes to a private layer that is discarded when it exits, unless it runs in a named container (\`--name\`), which keeps its changes.

      Exit status: the program's own; 125 when burrow fails, 126 when the command cannot be executed, 127 when it is not found. Standard input is passed through (\`-i\` is accepted for docker habits).
    `,
    examples: [
      ["Run a command", "$0 run alpine echo hi"],
      ["Build in the current folder", "$0 run -v $PWD:/work -w /work debian:bookworm make"],
      ["Keep changes in a named container", "$0 run --name dev alpine apk add gcc"],
      ["Run a plain rootfs folder", "$0 run --location ./rootfs /bin/sh"],
      ["Run a service in the background", "$0 run -d --name web alpine httpd -f"],
      ["Use the host's NVIDIA GPUs", "$0 run --gpu nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04 nvidia-smi"],
      ["Add a device described by a CDI spec", "$0 run --device nvidia.com/gpu=all IMAGE nvidia-smi"],
    ],
  });

  target = Option.String({ name: "IMAGE" });
  args = Option.Proxy();

  async run(): Promise<number> {
    const { isPullPolicy, requestFrom } = await import("../run/options.js");
    if (!isPullPolicy(this.pull)) {
      const { UsageError } = await import("clipanion");
      throw new UsageError(`invalid --pull "${this.pull}": use missing, never or always`);
    }
    const request = requestFrom(this, (this.context.stdin as NodeJS.ReadStream).isTTY === true);
    const { imageSource } = await import("./run-images.js");
    const images = imageSource(
      async (reference, platform) =>
        (await (await import("./pull.js")).pullReference(this, reference, platform)).image,
      async () => (await this.config()).stores,
    );
    if (request.detach) {
      const { detachRun } = await import("../run/detach.js");
      return detachRun(this, request, images);
    }
    const { runRequest } = await import("../run/run-request.js");
    return runRequest(this, request, images);
  }
}

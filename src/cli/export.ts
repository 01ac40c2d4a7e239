// `burrow export`: writes a container's root filesystem (or an image's) as a tar.
import path from "node:path";
import type { Writable } from "node:stream";
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Writes what a container sees as its root filesystem to a tar file or stdout. */
export class ExportCommand extends BurrowCommand {
  static override paths = [["export"], ["container", "export"]];
  static override usage = BurrowCommand.Usage({
    description: "Write a container's root filesystem as a tar archive",
    details: `
      With --clone the archive is a container clone (udocker's container transport): the container's whole root file system with what it runs with (its image's run settings, its image name, its engine setting), which \`burrow import --clone FILE\` turns back into a container, here or on another machine.

      The archive holds what the container sees: for a container that keeps its changes in an overlay, the image's files with the container's own changes applied (removed files left out). Entries are relative paths owned by root, as the container sees them; symlinks stay symlinks and hardlinked files stay linked. A file is written under a temporary name and renamed into place when complete, so a failed export leaves nothing behind; an existing file is replaced. An image may be given instead of a container.
    `,
    examples: [
      ["Export a container to a file", "$0 export -o mybox.tar mybox"],
      ["Export to stdout, compressed", "$0 export - mybox | gzip > mybox.tar.gz"],
      ["Import it again as an image", "$0 import mybox.tar mybox:1"],
      ["Move a container to another machine", "$0 export --clone -o mybox-clone.tar mybox"],
    ],
  });

  output = Option.String("-o,--output", { description: "Write the tar to FILE (- for stdout)" });
  clone = Option.Boolean("--clone", false, {
    description: "Write the container with its metadata, for import --clone",
  });
  args = Option.Rest({ name: "CONTAINER", required: 1 });

  async run(): Promise<number> {
    const { InvalidArgumentError } = await import("../errors.js");
    // udocker's form `export - CONTAINER` names stdout as a first argument.
    let output = this.output;
    let args = this.args;
    if (args.length === 2 && args[0] === "-" && output === undefined) {
      output = "-";
      args = args.slice(1);
    }
    if (args.length !== 1) {
      throw new InvalidArgumentError(
        `export takes one container: burrow export -o FILE CONTAINER (got ${args.length})`,
      );
    }
    const key = args[0]!;
    output ??= "-";
    const stdout = this.context.stdout as NodeJS.WritableStream & { isTTY?: boolean };
    if (output === "-" && stdout.isTTY === true) {
      throw new InvalidArgumentError(
        "refusing to write a tar archive to a terminal: give -o FILE or redirect the output",
      );
    }
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const { exportRootfs } = await import("../archive/export.js");
    let source: { lower: string; upper?: string };
    const container = containers.find(key);
    if (this.clone && !container) {
      throw new InvalidArgumentError(
        `export --clone writes a container, and there is no container "${key}": 'burrow ps' lists them ('burrow save' writes an image)`,
      );
    }
    if (container) {
      const dir = containers.path(container.id);
      if (container.layer === "overlay") {
        if (!store.readImage(container.image)) {
          const { StoreError } = await import("../errors.js");
          throw new StoreError(
            `the image of container ${container.name ?? container.id.slice(0, 12)} is gone from the store: its changes alone cannot be exported`,
          );
        }
        const { imageRootDir } = await import("../run/squashfs-root.js");
        const lower = await imageRootDir(store, store.readImage(container.image)!, this.context.env, (m) =>
          this.warn(m),
        );
        source = { lower, upper: path.join(dir, "upper") };
      } else {
        source = { lower: path.join(dir, "rootfs") };
      }
    } else {
      const { resolveLocalImage } = await import("./resolve.js");
      const { ImageNotFoundError } = await import("../errors.js");
      let image;
      try {
        ({ image } = resolveLocalImage(store, key));
      } catch (err) {
        if (!(err instanceof ImageNotFoundError)) throw err;
        throw new ImageNotFoundError(
          `no container or image "${key}" in the store: run 'burrow ps' or 'burrow images' to list them`,
          { cause: err },
        );
      }
      const { imageRootDir } = await import("../run/squashfs-root.js");
      source = { lower: await imageRootDir(store, image, this.context.env, (m) => this.warn(m)) };
    }
    if (this.clone && container) {
      const { exportClone } = await import("../archive/clone-archive.js");
      const stats = await exportClone(
        store,
        container,
        source,
        output === "-" ? (this.context.stdout as Writable) : output,
        { warn: (m) => this.warn(m), outputLabel: output },
      );
      if (output !== "-") this.info(`exported container ${key} (${stats.entries} entries) to ${output}`);
      return 0;
    }
    const stats = await exportRootfs(source, output === "-" ? (this.context.stdout as Writable) : output, {
      warn: (m) => this.warn(m),
      container: container ? (container.name ?? container.id.slice(0, 12)) : undefined,
    });
    if (output !== "-") this.info(`exported ${stats.entries} entries to ${output}`);
    return 0;
  }
}

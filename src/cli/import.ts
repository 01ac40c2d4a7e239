// `burrow import`: makes a one-layer image (or a container) from a root filesystem tarball.
import type { Readable } from "node:stream";
import type { Store } from "../store/store.js";
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Imports a rootfs tarball (plain, gzip or zstd) as an image, or straight into a container. */
export class ImportCommand extends BurrowCommand {
  static override paths = [["import"], ["image", "import"]];
  static override usage = BurrowCommand.Usage({
    description: "Make an image from a root filesystem tarball",
    details: `
      The tarball (plain, gzip or zstd; - reads it from stdin) becomes the only layer of a new image for this machine's platform, stored and verified like a pulled one; every member is checked first, and a tarball that tries to write outside its root, or is cut short, is refused with nothing added to the store. Without REPO:TAG the image is listed by its id only (as docker does); the id is printed on stdout.

      With --tocontainer a container is made from it instead (its id is printed), named with --name; the image it rests on stays in the store, listed by id. --mv removes the tarball once it is imported.

      With --clone FILE is a container clone written by \`burrow export --clone\` (udocker's container transport): the container comes back with its whole root file system, its run settings (Env, Cmd, WorkingDir...), its image name and its engine setting; its id is printed. A plain rootfs tarball given with --clone is imported as with --tocontainer, and said so.
    `,
    examples: [
      ["Import a tarball as myimg:1", "$0 import rootfs.tar.gz myimg:1"],
      ["Import from stdin", "cat rootfs.tar | $0 import - myimg:1"],
      ["Make a container from an exported one", "$0 import --tocontainer --name box2 box.tar"],
      ["Bring back a container written by export --clone", "$0 import --clone --name box3 box-clone.tar"],
      ["Import and remove the tarball", "$0 import --mv rootfs.tar myimg:2"],
    ],
  });

  toContainer = Option.Boolean("--tocontainer", false, {
    description: "Make a container from the tarball instead of an image",
  });
  clone = Option.Boolean("--clone", false, {
    description: "The file is a container with its metadata (export --clone): import it as a container",
  });
  name = Option.String("--name", { description: "Name of the container made with --tocontainer or --clone" });
  move = Option.Boolean("--mv", false, { description: "Remove the tarball once it is imported" });
  file = Option.String({ name: "FILE" });
  reference = Option.String({ name: "REPO:TAG", required: false });

  async run(): Promise<number> {
    const { InvalidArgumentError } = await import("../errors.js");
    if (this.clone && this.toContainer) {
      throw new InvalidArgumentError(
        "give one of --tocontainer (a rootfs tarball) or --clone (a container written by export --clone)",
      );
    }
    if (this.name !== undefined && !this.toContainer && !this.clone) {
      throw new InvalidArgumentError(
        "--name names the container made with --tocontainer or --clone: add one of them",
      );
    }
    const fromStdin = this.file === "-";
    if (this.move && fromStdin) {
      throw new InvalidArgumentError("--mv removes the file imported: it cannot be used with - (stdin)");
    }
    let name: string | undefined;
    if (this.reference !== undefined) {
      const { parseReference } = await import("../registry/reference.js");
      const ref = parseReference(this.reference);
      if (ref.digest !== undefined) {
        throw new InvalidArgumentError(
          `cannot name an imported image with a digest ("${this.reference}"): give REPO:TAG`,
        );
      }
      name = ref.toString();
    }
    const stdin = this.context.stdin as NodeJS.ReadableStream & { isTTY?: boolean };
    if (fromStdin && stdin.isTTY === true) {
      throw new InvalidArgumentError("import - reads the tarball from stdin: pipe or redirect one in");
    }
    const store = await this.store();
    if ((this.toContainer || this.clone) && this.name !== undefined) {
      // Refuse a bad or taken name before the import's work, not after.
      const { containersOf, checkContainerName } = await import("../store/containers.js");
      checkContainerName(this.name);
      const taken = containersOf(store.paths).find(this.name);
      if (taken?.name === this.name) {
        const { ConflictError } = await import("../errors.js");
        throw new ConflictError(
          `the name "${this.name}" is in use by a container: pick another --name, or remove that container first`,
        );
      }
    }
    // Leave nothing half-built behind: the staged tarball and image folder.
    const stopCleanup = await (await import("./interrupt.js")).removeStagingOnInterrupt();
    try {
      return await this.importInto(store, name, fromStdin ? (stdin as unknown as Readable) : this.file);
    } finally {
      stopCleanup();
    }
  }

  /** Imports `input` (the file, or stdin) as the image `name`, or as a container with --tocontainer or --clone. */
  private async importInto(
    store: Store,
    name: string | undefined,
    input: string | Readable,
  ): Promise<number> {
    const label = typeof input === "string" ? input : "stdin";
    if (this.clone) {
      const { importClone } = await import("../archive/clone-archive.js");
      const { engineSetting } = await import("../install/execmode.js");
      const { engineNames } = await import("../engine-registry.js");
      const { parseReference } = await import("../registry/reference.js");
      const container = await importClone({
        store,
        input,
        label,
        name: this.name,
        reference: name,
        move: this.move,
        warn: (m) => this.warn(m),
        info: (m) => this.info(m),
        checkEngine: (setting) => engineSetting(setting, engineNames),
        // Checked as a reference; kept as the exporter wrote it (a label for ps, like create's).
        checkImageName: (n) => {
          parseReference(n);
          return n;
        },
      });
      this.context.stdout.write(`${container.id}\n`);
      return 0;
    }
    const { importFile, containerFromImage } = await import("../archive/import.js");
    const { squashfsOutput } = await import("../store/squashfs.js");
    const result = await importFile(
      {
        store,
        input,
        label,
        name,
        move: this.move,
        warn: (m) => this.warn(m),
        // An image in the configured format; one made for a container (--tocontainer) stays a folder.
        squashfs: this.toContainer
          ? undefined
          : await squashfsOutput((await this.config()).imageFormat, this.context.env, store.paths.root),
      },
      this.context.env,
    );
    if (this.toContainer) {
      const container = await containerFromImage(store, result.image, this.name);
      this.context.stdout.write(`${container.id}\n`);
      return 0;
    }
    this.context.stdout.write(`sha256:${result.image.id}\n`);
    return 0;
  }
}

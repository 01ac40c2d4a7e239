// `burrow load`: images from a docker-save archive or an OCI image layout (file, directory or stdin).
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Loads the images of an archive into the store under the names it gives them. */
export class LoadCommand extends BurrowCommand {
  static override paths = [["load"], ["image", "load"]];
  static override usage = BurrowCommand.Usage({
    description: "Load images from a docker-save archive or an OCI image layout",
    details:
      "Reads what docker save, skopeo (docker-archive:, oci:, oci-archive:) and burrow save write: a tar, gzip- or zstd-compressed or not, or a directory. Every config and layer is checked against its digest and every layer against its diff_id; layers are extracted as safely as a pull extracts them. Nothing is added to the store unless every image in the archive checks out. Without -i, or with -i -, the archive is read from stdin.",
    examples: [
      ["Load an archive", "$0 load -i alpine.tar"],
      ["Load from stdin", "gunzip -c alpine.tar.gz | $0 load"],
      ["Load an OCI layout directory", "$0 load -i ./layout"],
    ],
  });

  input = Option.String("-i,--input", {
    description: "Read the archive from FILE or directory ('-' for stdin)",
  });

  async run(): Promise<number> {
    const fromStdin = this.input === undefined || this.input === "-";
    const { UsageError } = await import("clipanion");
    if (fromStdin && (this.context.stdin as { isTTY?: boolean }).isTTY) {
      throw new UsageError(
        "load reads an archive from stdin, which is a terminal: give -i FILE or pipe one in",
      );
    }
    if (!fromStdin) {
      const fs = await import("node:fs");
      if (!fs.existsSync(this.input!)) {
        // A missing archive is a failed load (status 1), not a usage error (125).
        const { InvalidArgumentError } = await import("../errors.js");
        throw new InvalidArgumentError(
          `no file or directory "${this.input}": give the path of an archive with -i`,
        );
      }
    }
    const store = await this.store();
    const { loadArchive } = await import("../archive/load.js");
    // Leave nothing half-built behind: staged images and the scratch copy.
    const stopCleanup = await (await import("./interrupt.js")).removeStagingOnInterrupt();
    try {
      // A SquashFS file (save --format squashfs) holds one image's files: loaded as import makes an image.
      const { isSquashfsFile, squashfsOutput } = await import("../store/squashfs.js");
      if (!fromStdin && isSquashfsFile(this.input!)) {
        const { importFile } = await import("../archive/import.js");
        const { image } = await importFile(
          {
            store,
            input: this.input!,
            label: this.input!,
            warn: (m) => this.warn(m),
            squashfs: await squashfsOutput(
              (await this.config()).imageFormat,
              this.context.env,
              store.paths.root,
            ),
          },
          this.context.env,
        );
        this.context.stdout.write(`Loaded image ID: sha256:${image.id}\n`);
        return 0;
      }
      const loaded = await loadArchive(
        store,
        fromStdin
          ? { stream: this.context.stdin, label: "the archive on stdin" }
          : { path: this.input!, label: this.input! },
        (m) => this.warn(m),
      );
      const { parseReference } = await import("../registry/reference.js");
      for (const img of loaded) {
        if (img.names.length === 0) {
          this.context.stdout.write(`Loaded image ID: sha256:${img.id}\n`);
          if (img.bareTags.length > 0) {
            this.info(
              `the layout names image ${img.id.slice(0, 12)} only by tag (${img.bareTags.join(", ")}): name it with 'burrow tag ${img.id.slice(0, 12)} REPO:${img.bareTags[0]}'`,
            );
          }
        }
        for (const n of img.names) {
          this.context.stdout.write(`Loaded image: ${parseReference(n).toFamiliarString()}\n`);
        }
      }
      return 0;
    } finally {
      stopCleanup();
    }
  }
}

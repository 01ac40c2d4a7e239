// `burrow save`: writes images as a docker-save archive (with an OCI image layout inside) to a file or stdout.
import { Option } from "clipanion";
import type { Writable } from "node:stream";
import type { WriteStream } from "node:fs";
import { BurrowCommand } from "./base.js";
import type { ImageRecord } from "../store/store.js";

/** Saves one or more local images into one tar archive. */
export class SaveCommand extends BurrowCommand {
  static override paths = [["save"], ["image", "save"]];
  static override usage = BurrowCommand.Usage({
    description: "Save images to a tar archive that docker load, skopeo and burrow load read",
    details:
      "The archive is docker's save format (manifest.json) and an OCI image layout (index.json) at once, with each blob stored once under blobs/sha256/. Layers are the blobs pulled from the registry, so their digests match the registry's. Without -o the archive goes to stdout, which must not be a terminal.",
    examples: [
      ["Save an image to a file", "$0 save -o alpine.tar alpine:3.20"],
      ["Save two images", "$0 save -o both.tar alpine:3.20 myimg:1"],
      ["Save to stdout, compressed", "$0 save alpine | gzip > alpine.tar.gz"],
      [
        "Save an image's files as one SquashFS file (for burrow run ./tool.sqfs, ch-run, enroot)",
        "$0 save --format squashfs -o tool.sqfs tool:2",
      ],
    ],
  });

  output = Option.String("-o,--output", { description: "Write the archive to FILE ('-' for stdout)" });
  format = Option.String("--format", {
    description:
      "docker (the default: a docker-save archive with an OCI layout) or squashfs (the image's files as one SquashFS file)",
  });
  images = Option.Rest({ name: "IMAGE", required: 1 });

  async run(): Promise<number> {
    if (this.format !== undefined && this.format !== "docker" && this.format !== "squashfs") {
      const { UsageError } = await import("clipanion");
      throw new UsageError(`--format ${JSON.stringify(this.format)}: it must be docker or squashfs`);
    }
    if (this.format === "squashfs") return this.saveSquashfs();
    const toStdout = this.output === undefined || this.output === "-";
    if (toStdout && (this.context.stdout as { isTTY?: boolean }).isTTY) {
      const { UsageError } = await import("clipanion");
      throw new UsageError(
        "refusing to write an archive to a terminal: give -o FILE or redirect stdout to a file",
      );
    }
    const store = await this.store();
    const { resolveLocalImage } = await import("./resolve.js");
    const { planSave, writeSave } = await import("../archive/save.js");
    const items = new Map<string, { image: ImageRecord; names: string[] }>();
    for (const raw of this.images) {
      const { image, ref } = resolveLocalImage(store, raw);
      const item = items.get(image.id) ?? { image, names: [] };
      // Saved by a name: that name (docker's RepoTags); by id: no name. A digest name cannot be a tag.
      if (ref && !ref.name.includes("@") && !item.names.includes(ref.name)) item.names.push(ref.name);
      items.set(image.id, item);
    }
    // Blobs stay in the store while they are read, whatever a concurrent rmi does.
    const claim = await store.claimBlobs(
      [...items.values()].flatMap(({ image }) => [
        image.configDigest,
        image.manifestDigest,
        ...image.layers.map((l) => l.digest),
      ]),
    );
    try {
      const plan = planSave(store, [...items.values()]);
      if (toStdout) {
        await writeSave(plan, this.context.stdout);
        return 0;
      }
      await this.writeFile(this.output!, (out) => writeSave(plan, out));
      return 0;
    } finally {
      claim.release();
    }
  }

  /**
   * `--format squashfs`: one image's root as one SquashFS file at -o FILE: the stored file itself where the
   * image is kept in that format, else its folder packed with mksquashfs (gzip, which every SquashFUSE reads).
   */
  private async saveSquashfs(): Promise<number> {
    const { UsageError } = await import("clipanion");
    if (this.output === undefined || this.output === "-")
      throw new UsageError("--format squashfs writes a file: give -o FILE.sqfs");
    if (this.images.length !== 1) throw new UsageError("--format squashfs saves one image: give one IMAGE");
    const store = await this.store();
    const { resolveLocalImage } = await import("./resolve.js");
    const { image } = resolveLocalImage(store, this.images[0]!);
    const fs = await import("node:fs");
    const { imageSquashfs } = await import("../run/squashfs-root.js");
    const { findSquashTool } = await import("../store/squashfs.js");
    const { holdImage } = await import("../store/holds.js");
    const hold = await holdImage(store, image.id);
    try {
      if (image.format === "squashfs") {
        const from = imageSquashfs(store, image).file;
        await this.writeFile(this.output, async (out) => {
          const { pipeline } = await import("node:stream/promises");
          await pipeline(fs.createReadStream(from), out, { end: false });
        });
        return 0;
      }
      const mksquashfs = await findSquashTool("mksquashfs", this.context.env, store.paths.root);
      if (mksquashfs === undefined) {
        const { InvalidArgumentError } = await import("../errors.js");
        throw new InvalidArgumentError(
          "--format squashfs needs mksquashfs, which is not found: install squashfs-tools, or set BURROW_MKSQUASHFS",
        );
      }
      const { packSquashfs } = await import("../store/squashfs.js");
      const { tempSibling } = await import("../store/atomic.js");
      const tmp = tempSibling(this.output, "save");
      const { cleanupOnInterrupt } = await import("./interrupt.js");
      const stopCleanup = cleanupOnInterrupt(
        () => [tmp],
        (f) => fs.rmSync(f, { force: true }),
      );
      try {
        await packSquashfs(mksquashfs, store.rootfs(image.id), tmp, "portable");
        fs.renameSync(tmp, this.output);
      } finally {
        fs.rmSync(tmp, { force: true });
        stopCleanup();
      }
      return 0;
    } finally {
      await hold.release();
    }
  }

  /** Writes FILE through a temporary sibling renamed into place, removed on failure or interruption. */
  private async writeFile(file: string, write: (out: Writable) => Promise<void>): Promise<void> {
    const fs = await import("node:fs");
    const { tempSibling } = await import("../store/atomic.js");
    const { BurrowError, InvalidArgumentError } = await import("../errors.js");
    const { errnoReason } = await import("../system-error.js");
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
      throw new InvalidArgumentError(`${file} is a folder: give the name of the archive to write`);
    }
    const cannot = (err: unknown): Error =>
      new InvalidArgumentError(`cannot write ${file}: ${errnoReason(err)}`, { cause: err });
    const tmp = tempSibling(file, "save");
    let out: WriteStream;
    try {
      const fd = fs.openSync(tmp, "wx", 0o666);
      out = fs.createWriteStream("", { fd });
    } catch (err) {
      throw cannot(err);
    }
    const { cleanupOnInterrupt } = await import("./interrupt.js");
    const stopCleanup = cleanupOnInterrupt(
      () => [tmp],
      (f) => fs.rmSync(f, { force: true }),
    );
    try {
      const failed = new Promise<never>((_, reject) => out.once("error", reject));
      failed.catch(() => undefined);
      await Promise.race([write(out), failed]);
      await new Promise<void>((resolve, reject) => {
        out.once("error", reject);
        out.end(() => resolve());
      });
      fs.renameSync(tmp, file);
    } catch (err) {
      out.destroy();
      fs.rmSync(tmp, { force: true });
      if (err instanceof BurrowError) throw err;
      throw cannot(err);
    } finally {
      stopCleanup();
    }
  }
}

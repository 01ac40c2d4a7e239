// `burrow inspect`: a container's or an image's details as JSON, or with -p the path of its files.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { resolveLocalImage } from "./resolve.js";
import { StoreError } from "../errors.js";
import type { Store } from "../store/store.js";
import type { Containers, ContainerRecord } from "../store/containers.js";
import { printableJson } from "./printable.js";

/** Prints docker-style inspect JSON (an array of one object) or the rootfs path; containers are looked up first. */
export class InspectCommand extends BurrowCommand {
  static override paths = [["inspect"], ["image", "inspect"]];
  static override usage = BurrowCommand.Usage({
    description: "Show a container or an image as JSON, or the path of its files",
    details: `
      TARGET is a container (name, id or id prefix) or else an image. For an image, \`-p\` prints its rootfs, shared by every container and run: do not change it.

      For a container, \`-p\` prints the folder that holds its whole root file system, where you can read and edit files while no run uses it; the next run sees the edits. A container that keeps only its changes in an overlay layer over the image is first turned into its own copy of the image with those changes applied (once; it costs the image's size, less where the file system makes reflinks), and \`-p\` says so in one line.
    `,
    examples: [
      ["Show an image", "$0 inspect alpine"],
      ["Show a container", "$0 inspect dev"],
      ["Print the rootfs path", "$0 inspect -p alpine"],
      ["Copy a file into a container", "cp data.txt $($0 inspect -p dev)/tmp/"],
    ],
  });

  printPath = Option.Boolean("-p,--path", false, {
    description: "Print the path of the rootfs (for a container: its whole root file system)",
  });
  target = Option.String({ name: "CONTAINER|IMAGE" });

  async run(): Promise<number> {
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const container = containers.find(this.target);
    if (container) {
      if (this.printPath) return this.containerPath(store, containers, container);
      return this.container(store, containers, container);
    }
    const { image } = resolveLocalImage(store, this.target);
    if (this.printPath) {
      // A SquashFS image's folder is its file unpacked on this node (once, with a notice).
      const { imageRootDir } = await import("../run/squashfs-root.js");
      this.context.stdout.write(
        `${await imageRootDir(store, image, this.context.env, (m) => this.warn(m))}\n`,
      );
      return 0;
    }
    const configBlob = store.readBlob(image.configDigest);
    const manifestBlob = store.readBlob(image.manifestDigest);
    if (!configBlob || !manifestBlob) {
      throw new StoreError(
        `image ${image.id.slice(0, 12)} is missing its config or manifest: run 'burrow verify ${this.target}' then pull it again`,
      );
    }
    const config = JSON.parse(configBlob.toString("utf8")) as Record<string, unknown>;
    const names = store.listRefs().filter((r) => r.image === image.id);
    const out = {
      Id: image.configDigest,
      RepoTags: names.filter((n) => !n.name.includes("@")).map((n) => n.name),
      RepoDigests: [
        ...new Set(
          names.map((n) => `${n.name.replace(/[:@][^/]*$/, "")}@${n.manifestDigest ?? image.manifestDigest}`),
        ),
      ],
      Created: config.created,
      Author: config.author,
      Architecture: config.architecture,
      Os: config.os,
      Variant: config.variant,
      Config: config.config ?? {},
      RootFS: config.rootfs,
      History: config.history,
      Size: image.rootfs.bytes,
      Manifest: JSON.parse(manifestBlob.toString("utf8")) as unknown,
      ManifestDigest: image.manifestDigest,
      IndexDigest: image.indexDigest,
      Burrow: {
        Rootfs:
          image.format === "squashfs"
            ? (await import("../run/squashfs-root.js")).imageSquashfs(store, image).file
            : store.rootfs(image.id),
        Format: image.format ?? "dir",
        PulledAt: image.pulledAt,
        Source: image.source,
        Layers: image.layers,
        Contents: image.rootfs,
      },
    };
    this.context.stdout.write(printableJson([out]) + "\n");
    return 0;
  }

  /**
   * `-p` of a container: the folder holding its whole root file system, as udocker users read and edit
   * it. An overlay container keeps only its changes, so it becomes a copy of its image with them applied
   * (once, as for PRoot: src/store/containers.ts convertToCopy), under its layer's lock.
   */
  private async containerPath(store: Store, containers: Containers, rec: ContainerRecord): Promise<number> {
    if (rec.layer === "overlay") {
      const label = rec.name ?? rec.id.slice(0, 12);
      const image = store.readImage(rec.image);
      if (!image) {
        throw new StoreError(
          `container ${label} keeps only its changes over its image, which is gone from the store, so it has no whole root file system to show: remove it, or export what it holds ('burrow export')`,
        );
      }
      const lock = await containers.holdLayer(rec.id);
      if (!lock) {
        const { ConflictError } = await import("../errors.js");
        throw new ConflictError(
          `container ${label} is running with its changes in an overlay layer, so no one folder holds its files yet: run 'burrow inspect -p ${label}' again once that run has ended`,
        );
      }
      try {
        const { copyTree } = await import("../fs/copy-tree.js");
        const { humanSize } = await import("./format.js");
        this.info(
          `burrow: container ${label} kept only its changes over its image; it now gets its own copy of the image (${humanSize(image.rootfs.bytes)}, once, a reflink where the file system allows) with them applied, so that this folder is its whole root file system`,
        );
        const { imageRootDir } = await import("../run/squashfs-root.js");
        const lower = await imageRootDir(store, image, this.context.env, (m) => this.warn(m));
        rec = containers.convertToCopy(rec.id, lower, "inspect -p", copyTree);
      } finally {
        await lock.release();
      }
    }
    this.context.stdout.write(`${containers.layerPath(rec)}\n`);
    return 0;
  }

  /** A container's record as docker-style JSON (with the image's run settings). */
  private container(store: Store, containers: Containers, rec: ContainerRecord): number {
    const own = containers.layerPath(rec);
    const image = store.readImage(rec.image);
    const configBlob = image ? store.readBlob(image.configDigest) : undefined;
    const config = configBlob ? (JSON.parse(configBlob.toString("utf8")) as Record<string, unknown>) : {};
    const out = {
      Id: rec.id,
      Name: rec.name ?? "",
      Names: rec.names ?? [],
      Created: rec.created,
      Image: `sha256:${rec.image}`,
      ImageName: rec.imageName,
      Config: config.config ?? {},
      Platform: config.os,
      Architecture: config.architecture,
      Burrow: {
        Layer: rec.layer,
        Path: own,
        ContainerDir: containers.path(rec.id),
        ImageRootfs: image ? store.rootfs(image.id) : null,
        ImagePresent: image !== undefined,
        Engine: rec.engine ?? null,
        Protected: containers.isProtected(rec.id),
        Running: containers.inUse(rec.id),
      },
    };
    this.context.stdout.write(printableJson([out]) + "\n");
    return 0;
  }
}

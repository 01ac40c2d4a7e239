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

      For a container, \`-p\` prints the folder that holds the container's own files. A \`copy\` container (no overlay here) has its whole rootfs there. An \`overlay\` container stores only its changes: \`-p\` prints that layer (\`upper/\`), where files the container wrote are, and where a file placed while no run is using the container appears inside it at the same path; the unchanged files are in the image's rootfs (\`Burrow.ImageRootfs\` in the JSON). The full merged view exists only while a run is going.
    `,
    examples: [
      ["Show an image", "$0 inspect alpine"],
      ["Show a container", "$0 inspect dev"],
      ["Print the rootfs path", "$0 inspect -p alpine"],
      ["Copy a file into a stopped container", "cp data.txt $($0 inspect -p dev)/tmp/"],
    ],
  });

  printPath = Option.Boolean("-p,--path", false, {
    description: "Print the path of the rootfs (for a container: of its own files)",
  });
  target = Option.String({ name: "CONTAINER|IMAGE" });

  async run(): Promise<number> {
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const container = containers.find(this.target);
    if (container) return this.container(store, containers, container);
    const { image } = resolveLocalImage(store, this.target);
    if (this.printPath) {
      this.context.stdout.write(`${store.rootfs(image.id)}\n`);
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
        Rootfs: store.rootfs(image.id),
        PulledAt: image.pulledAt,
        Source: image.source,
        Layers: image.layers,
        Contents: image.rootfs,
      },
    };
    this.context.stdout.write(printableJson([out]) + "\n");
    return 0;
  }

  /** A container's record as docker-style JSON (with the image's run settings), or with -p its files' path. */
  private container(store: Store, containers: Containers, rec: ContainerRecord): number {
    const own = containers.layerPath(rec);
    if (this.printPath) {
      this.context.stdout.write(`${own}\n`);
      return 0;
    }
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

// `burrow inspect`: an image's config and manifest as JSON, or with -p the path of its rootfs.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { resolveLocalImage } from "./resolve.js";
import { StoreError } from "../errors.js";

/** Prints docker-style inspect JSON (an array of one object) or the rootfs path. */
export class InspectCommand extends BurrowCommand {
  static override paths = [["inspect"], ["image", "inspect"]];
  static override usage = BurrowCommand.Usage({
    description: "Show an image's config and manifest as JSON, or the path of its rootfs",
    examples: [
      ["Show an image", "$0 inspect alpine"],
      ["Print the rootfs path", "$0 inspect -p alpine"],
    ],
  });

  printPath = Option.Boolean("-p,--path", false, { description: "Print the path of the image's rootfs" });
  target = Option.String({ name: "IMAGE" });

  async run(): Promise<number> {
    const store = await this.store();
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
    this.context.stdout.write(JSON.stringify([out], null, 2) + "\n");
    return 0;
  }
}

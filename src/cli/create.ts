// `burrow create`: makes a named container over an image and prints its id.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { withOptions } from "./declared-options.js";
import { pickOptions } from "../option-table.js";
import { RUN_OPTIONS } from "../run/options.js";

/** Creates a container (its writable layer persists across runs), udocker-style. */
export class CreateCommand extends withOptions(BurrowCommand, pickOptions(RUN_OPTIONS, "name", "platform"), {
  name: "Name of the container (unique in the store)",
  platform: "Platform to pull if the image is missing",
}) {
  static override paths = [["create"], ["container", "create"]];
  static override usage = BurrowCommand.Usage({
    description: "Create a container from an image and print its id",
    details: `
      The container keeps what its runs write: \`burrow run NAME ...\` (or its id) sees what the previous run left. Where the kernel allows an overlay in a user namespace, the container stores only its own changes over the shared image (\`upper/\`); otherwise it holds a copy of the image (\`rootfs/\`). IMAGE is resolved like \`run\` does: local names and ids first, else it is pulled.

      A name follows udocker's rule (anything but \`/\`, \`.\`, space, \`[\`, \`]\`: \`_\`, \`-x\`, \`a:b\`) or docker's (\`my.box\`); one starting with \`-\` is given as \`--name=-x\`, and after \`--\` to other commands.
    `,
    examples: [
      ["Create a container named dev", "$0 create --name dev alpine"],
      ["Then use it", "$0 run dev apk add gcc"],
      ["udocker's names work too", "$0 create --name=_ alpine"],
    ],
  });

  image = Option.String({ name: "IMAGE" });

  async run(): Promise<number> {
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const { checkContainerName } = await import("../store/containers.js");
    const { copyTree } = await import("../fs/copy-tree.js");
    if (this.name !== undefined) checkContainerName(this.name);
    const { resolveLocalImage } = await import("./resolve.js");
    const { ImageNotFoundError } = await import("../errors.js");
    let image;
    try {
      image = resolveLocalImage(store, this.image).image;
    } catch (err) {
      if (!(err instanceof ImageNotFoundError)) throw err;
      const { pullReference } = await import("./pull.js");
      image = (await pullReference(this, this.image, this.platform)).image;
    }
    // The layer the container's runs will use: an overlay where the engine picked here can mount one.
    // BURROW_LAYER is read as run reads it (fuse: a new container's layer is a copy, as with run --name).
    const { layerSetting } = await import("../run/choose-layer.js");
    const setting = layerSetting(this.context.env);
    const fs = await import("node:fs");
    fs.mkdirSync(containers.dir, { recursive: true });
    let overlay = false;
    if (setting === "auto") {
      const { overlayPossibleAt } = await import("../run/overlay.js");
      overlay = overlayPossibleAt(containers.dir) && (await this.engineSupportsOverlay(store.paths.root));
    }
    const rootfs = overlay
      ? store.rootfs(image.id)
      : await (
          await import("../run/squashfs-root.js")
        ).imageRootDir(store, image, this.context.env, (m) => this.warn(m));
    const path = await import("node:path");
    const rec = await containers.make(
      image.id,
      this.image,
      this.name,
      overlay ? "overlay" : "copy",
      overlay ? undefined : (dir) => copyTree(rootfs, path.join(dir, "rootfs")),
    );
    this.context.stdout.write(`${rec.id}\n`);
    return 0;
  }

  /** Whether the engine `run` would pick here mounts overlays (true when none can be picked: decided at run). */
  private async engineSupportsOverlay(storeRoot: string): Promise<boolean> {
    const config = await this.config();
    const { selectEngine } = await import("../engine-registry.js");
    try {
      const engine = await selectEngine({
        flag: undefined,
        saved: undefined,
        env: this.context.env.BURROW_ENGINE,
        config: config.engine,
        storeRoot,
        processEnv: this.context.env,
      });
      return engine.supportsOverlay === true;
    } catch {
      return true;
    }
  }
}

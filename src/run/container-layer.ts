// Step 2 of a run, for named containers (src/run/run-request.ts): the container a run with `--name` makes,
// with its layer (an overlay over the image, or a copy of it), and the copy an existing overlay container
// becomes where this engine cannot mount its overlay.
import fs from "node:fs";
import path from "node:path";
import type { Engine } from "../engine-interface.js";
import { copyTree } from "../fs/copy-tree.js";
import type { ContainerRecord, Containers } from "../store/containers.js";
import type { ImageRecord, Store } from "../store/store.js";
import { mustBecomeCopy, newContainerLayer } from "./choose-layer.js";
import type { LayerProbes, LayerSetting } from "./choose-layer.js";
import type { Target } from "./resolve-target.js";

/**
 * The container `target` runs in, if any: an existing one (made a copy where this engine cannot mount its
 * overlay), or a new one named `name`. `made`: this run made it (removed again if the run never starts).
 */
export async function containerForRun(
  target: Target,
  name: string | undefined,
  store: Store,
  containers: Containers,
  engine: Engine,
  layer: { setting: LayerSetting; probes: LayerProbes },
  /** The folder of an image's root (a SquashFS image unpacked on this node: src/run/squashfs-root.ts). */
  rootDir: (image: ImageRecord) => Promise<string>,
): Promise<{ container: ContainerRecord; made: boolean } | undefined> {
  if (target.kind === "image" && name !== undefined) {
    fs.mkdirSync(containers.dir, { recursive: true });
    const rootfs = await rootDir(target.image);
    const kind = newContainerLayer(layer.setting, engine, containers.dir, layer.probes);
    const populate =
      kind === "copy" ? (dir: string) => copyTree(rootfs, path.join(dir, "rootfs")) : undefined;
    const container = await containers.make(target.image.id, target.name, name, kind, populate);
    return { container, made: true };
  }
  if (target.kind !== "container") return undefined;
  const { container } = target;
  if (!mustBecomeCopy(container, layer.setting, engine, containers.dir, layer.probes))
    return { container, made: false };
  const image = store.readImage(container.image);
  const rootfs = image !== undefined ? await rootDir(image) : store.rootfs(container.image);
  return { container: containers.convertToCopy(container.id, rootfs, engine.name, copyTree), made: false };
}

// Step 2 of a run (src/run/run-request.ts): where the run's writes go. A kernel overlay over the shared
// image where this engine and file system allow one, else fuse-overlayfs, else a private copy; a named
// container keeps its changes in an overlay layer or in a copy of its own. BURROW_LAYER=copy forces the
// copy, =fuse fuse-overlayfs (kernels whose overlay misbehaves, tests).
import { InvalidArgumentError } from "../errors.js";
import type { Engine } from "../engine-interface.js";
import type { ContainerRecord } from "../store/containers.js";

/** BURROW_LAYER, read. */
export type LayerSetting = "auto" | "copy" | "fuse";

/** How the writable layer of a run of an image is made. */
export type PrivateLayer = { kind: "overlay"; fuse?: string } | { kind: "copy" };

/** The host's answers the choice needs (src/run/overlay.ts). */
export interface LayerProbes {
  /** Whether the kernel can mount an overlay in a user namespace with its upper in `dir`. */
  overlayPossibleAt(dir: string): boolean;
  /** fuse-overlayfs, when installed and /dev/fuse is open to this user. */
  fuseOverlayfs(): Promise<string | undefined>;
}

/** BURROW_LAYER from `env`: auto (unset or empty), copy or fuse; anything else is refused. */
export function layerSetting(env: NodeJS.ProcessEnv): LayerSetting {
  const value = env.BURROW_LAYER;
  if (value === undefined || value === "" || value === "auto") return "auto";
  if (value === "copy" || value === "fuse") return value;
  throw new InvalidArgumentError(`invalid BURROW_LAYER "${value}": use auto, copy or fuse`);
}

/** Whether `engine` mounts a kernel overlay whose upper is in `dir` (never when BURROW_LAYER says otherwise). */
export function kernelOverlayAt(
  setting: LayerSetting,
  engine: Engine,
  dir: string,
  probes: LayerProbes,
): boolean {
  return setting === "auto" && engine.supportsOverlay === true && probes.overlayPossibleAt(dir);
}

/** The layer a new named container keeps its changes in: an overlay over the image where one mounts, else a copy. */
export function newContainerLayer(
  setting: LayerSetting,
  engine: Engine,
  containersDir: string,
  probes: LayerProbes,
): ContainerRecord["layer"] {
  return kernelOverlayAt(setting, engine, containersDir, probes) ? "overlay" : "copy";
}

/**
 * Whether an existing container made with an overlay layer must become a copy to run here (an engine
 * without overlay, proot say): only faithful while its overlay layer holds no changes yet.
 */
export function mustBecomeCopy(
  container: ContainerRecord,
  setting: LayerSetting,
  engine: Engine,
  containersDir: string,
  probes: LayerProbes,
): boolean {
  return container.layer === "overlay" && !kernelOverlayAt(setting, engine, containersDir, probes);
}

/**
 * The private layer of a run of an image, its upper in `scratch`: the kernel's overlay, else
 * fuse-overlayfs where the engine can use it (not with `--nosysdirs`: its server, in the container's pid
 * namespace, reads the container's /proc), else a copy.
 */
export async function privateLayer(
  setting: LayerSetting,
  engine: Engine,
  scratch: string,
  nosysdirs: boolean,
  probes: LayerProbes,
): Promise<PrivateLayer> {
  if (kernelOverlayAt(setting, engine, scratch, probes)) return { kind: "overlay" };
  if (setting === "copy" || nosysdirs) return { kind: "copy" };
  const fuse = engine.supportsFuseOverlay === true ? await probes.fuseOverlayfs() : undefined;
  if (fuse !== undefined) return { kind: "overlay", fuse };
  if (setting === "fuse") {
    throw new InvalidArgumentError(
      `BURROW_LAYER=fuse: the ${engine.name} engine has no usable fuse-overlayfs here (install fuse-overlayfs; /dev/fuse must be open to you; engine userns)`,
    );
  }
  return { kind: "copy" };
}

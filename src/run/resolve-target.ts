// Step 1 of a run (src/run/run-request.ts): what to run. A folder (`--location`), a named container that
// exists, or an image (pulled when `--pull` says so), with the image's run settings checked.
import fs from "node:fs";
import path from "node:path";
import { ImageConfigError, ImageNotFoundError, InvalidArgumentError, StoreError } from "../errors.js";
import { containerConfig, parseConfigBlob } from "./image-config.js";
import type { ContainerConfig } from "./image-config.js";
import type { ImageSource } from "./host.js";
import type { RunRequest } from "./options.js";
import type { ContainerRecord, Containers } from "../store/containers.js";
import type { ImageRecord, Store } from "../store/store.js";
import { isSquashfsFile, squashfsShortfall } from "../store/squashfs.js";
import { storeOf } from "../store/site-stores.js";

/** What a run runs: a rootfs folder as it is, an existing container, or an image (in a new container with `--name`). */
export type Target =
  | { kind: "folder"; path: string }
  /** A SquashFS file named by its path (`burrow run ./tool.sqfs`), run as a folder is: no image settings. */
  | { kind: "squashfs"; file: string }
  | { kind: "container"; container: ContainerRecord; image: ImageRecord; config: ContainerConfig }
  | { kind: "image"; image: ImageRecord; name: string; config: ContainerConfig };

/** The target of `req`, and its command (`--location` takes the first word as the command's). */
export async function resolveTarget(
  req: RunRequest,
  store: Store,
  containers: Containers,
  images: ImageSource,
): Promise<{ target: Target; args: string[] }> {
  if (req.location !== undefined) {
    if (req.name !== undefined)
      throw new InvalidArgumentError("--location runs a folder as it is: it cannot be combined with --name");
    const folder = path.resolve(req.location);
    if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
      throw new InvalidArgumentError(`--location ${req.location} is not a folder: give the path of a rootfs`);
    }
    const args = req.target !== undefined ? [req.target, ...req.args] : req.args;
    return { target: { kind: "folder", path: folder }, args };
  }
  if (req.target === undefined)
    throw new InvalidArgumentError("give an image or container to run: burrow run IMAGE [COMMAND...]");
  const file = squashfsPath(req.target);
  if (file !== undefined) {
    if (req.name !== undefined)
      throw new InvalidArgumentError(
        `${req.target} is a SquashFS file, run as it is: it cannot be combined with --name (pull or load an image for a named container)`,
      );
    return { target: { kind: "squashfs", file }, args: req.args };
  }
  const container = req.name === undefined ? containers.find(req.target) : undefined;
  if (container) {
    // The container's image: in the store, else in a site store (by its id).
    const image = store.readImage(container.image) ?? (await images.find(store, container.image));
    if (!image) {
      throw new StoreError(
        `the image of container ${container.name ?? container.id.slice(0, 12)} is gone from the store: pull it again or remove the container`,
      );
    }
    const config = runConfig(store, image, req, req.target);
    return { target: { kind: "container", container, image, config }, args: req.args };
  }
  const image = await imageFor(req.target, req, store, images);
  const config = runConfig(store, image, req, req.target);
  return { target: { kind: "image", image, name: req.target, config }, args: req.args };
}

/**
 * The absolute path of `target` when it names a SquashFS file (a path: it starts with `/`, `./` or `../`,
 * which no image or container name does, and the file starts with SquashFS's magic, "hsqs").
 */
function squashfsPath(target: string): string | undefined {
  if (!/^(?:\/|\.\.?\/)/.test(target)) return undefined;
  const file = path.resolve(target);
  if (isSquashfsFile(file)) {
    const short = squashfsShortfall(file);
    if (short !== undefined)
      throw new InvalidArgumentError(
        `${target} is a SquashFS file cut short (${short}): copy or make it again`,
      );
    return file;
  }
  // No image or container name is a path: say what this one is instead of reading it as a registry's.
  const st = fs.statSync(file, { throwIfNoEntry: false });
  throw new InvalidArgumentError(
    st === undefined
      ? `${target}: no such file (a path given to run names a SquashFS file; images and containers are named without ./ or /)`
      : st.isDirectory()
        ? `${target} is a folder: run a folder with --location ${target}`
        : `${target} is not a SquashFS file (it does not start with "hsqs"): give a SquashFS file, or an image or container by its name`,
  );
}

/** The image `reference` names, pulled when `--pull` says so (always, or when the store lacks it). */
export async function imageFor(
  reference: string,
  req: Pick<RunRequest, "pull" | "platform">,
  store: Store,
  images: ImageSource,
): Promise<ImageRecord> {
  const found = req.pull === "always" ? undefined : await images.find(store, reference);
  if (found) return found;
  if (req.pull === "never") {
    throw new ImageNotFoundError(
      `no image "${reference}" in the store and --pull never was given: run 'burrow pull ${reference}' first`,
    );
  }
  return images.pull(reference, req.platform);
}

/** Reads an image's config blob (the run settings), from the store that holds the image. */
function readConfig(store: Store, image: ImageRecord): unknown {
  const blob = storeOf(image, store).readBlob(image.configDigest);
  if (!blob)
    throw new StoreError(
      `image ${image.id.slice(0, 12)} has lost its config: run 'burrow verify' and pull it again`,
    );
  return parseConfigBlob(blob);
}

/** The image's run settings, checked; the fields the command line replaces are left unread. */
function runConfig(store: Store, image: ImageRecord, req: RunRequest, label: string): ContainerConfig {
  try {
    return containerConfig(readConfig(store, image), {
      entrypoint: req.options.entrypoint !== undefined,
      cmd: req.args.length > 0,
      user: req.options.user !== undefined,
      workdir: req.options.workdir !== undefined,
    });
  } catch (err) {
    if (!(err instanceof ImageConfigError)) throw err;
    throw new ImageConfigError(`cannot run ${label}: ${err.message}`, { cause: err });
  }
}

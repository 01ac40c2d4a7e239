// The run path: find what to run (container, image, or folder), pick the engine, plan, run, clean up.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import type { CommandHost } from "../cli/host.js";
import { ImageConfigError, InvalidArgumentError, ImageNotFoundError, StoreError } from "../errors.js";
import type { RunOptions, RunTarget } from "./plan.js";
import type { EngineStarted, RunSpec } from "../engine.js";
import type { DeviceEdits } from "./cdi.js";
import { containerConfig, parseConfigBlob } from "./image-config.js";
import type { ContainerConfig } from "./image-config.js";
import type { ContainerRecord } from "../store/containers.js";
import type { Store, ImageRecord } from "../store/store.js";
import type { ImageHold } from "../store/holds.js";

/** What `burrow run` was asked, after option parsing. */
export interface RunRequest {
  target: string | undefined;
  args: string[];
  location: string | undefined;
  pull: "missing" | "never" | "always";
  platform: string | undefined;
  name: string | undefined;
  remove: boolean;
  engine: string | undefined;
  options: RunOptions;
  /** `-d`: run in the background (src/run/detach.ts); prepareRun itself ignores it. */
  detach?: boolean;
  /** Called once the program runs, with what a detached run records (src/run/detach.ts). */
  started?: (run: {
    engine: string;
    spec: RunSpec;
    container: string | undefined;
    started: EngineStarted;
  }) => void;
}

/** The image record and its config for a reference, pulling it when `--pull` says so. */
export async function imageFor(
  cmd: CommandHost,
  store: Store,
  raw: string,
  req: RunRequest,
): Promise<{ image: ImageRecord; name: string }> {
  const { normalizeName } = await import("../cli/resolve.js");
  const find = (): ImageRecord | undefined => {
    try {
      return store.findImage(normalizeName(raw), raw).image;
    } catch (err) {
      if (err instanceof ImageNotFoundError) return undefined;
      throw err;
    }
  };
  let image = req.pull === "always" ? undefined : find();
  if (!image) {
    if (req.pull === "never") {
      throw new ImageNotFoundError(
        `no image "${raw}" in the store and --pull never was given: run 'burrow pull ${raw}' first`,
      );
    }
    const { pullReference } = await import("../cli/pull.js");
    const result = await pullReference(cmd, raw, req.platform);
    image = result.image;
  }
  return { image, name: raw };
}

/** Reads an image's config blob (the run settings). */
function readConfig(store: Store, image: ImageRecord): unknown {
  const blob = store.readBlob(image.configDigest);
  if (!blob)
    throw new StoreError(
      `image ${image.id.slice(0, 12)} has lost its config: run 'burrow verify' and pull it again`,
    );
  return parseConfigBlob(blob);
}

/** The image's run settings, checked; the fields the command line replaces are left unread. */
function runConfig(
  store: Store,
  image: ImageRecord,
  req: RunRequest,
  label: string | undefined,
): ContainerConfig {
  try {
    return containerConfig(readConfig(store, image), {
      entrypoint: req.options.entrypoint !== undefined,
      cmd: req.args.length > 0,
      user: req.options.user !== undefined,
      workdir: req.options.workdir !== undefined,
    });
  } catch (err) {
    if (!(err instanceof ImageConfigError)) throw err;
    const name = label ?? image.id.slice(0, 12);
    throw new ImageConfigError(`cannot run ${name}: ${err.message}`, { cause: err });
  }
}

/** Copies a rootfs (reflinks where the file system can). */
function copyTree(from: string, to: string): void {
  try {
    execFileSync("cp", ["-a", "--reflink=auto", from, to], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw new StoreError(`cannot copy ${from} to ${to}: check the free space of the store`, { cause: err });
  }
}

/** Runs the request; resolves to the exit status. */
export async function prepareRun(cmd: CommandHost, req: RunRequest): Promise<number> {
  // The image a run uses is held until the run ends: `rmi` meanwhile removes its names, not its files.
  const holds: ImageHold[] = [];
  try {
    return await runRequest(cmd, req, holds);
  } finally {
    for (const h of holds) await h.release();
  }
}

/** The run itself; the image it uses goes into `holds` (src/store/holds.ts) before its files are used. */
async function runRequest(cmd: CommandHost, req: RunRequest, holds: ImageHold[]): Promise<number> {
  // --gpu and --device are resolved on the host first: a missing device fails before any pull.
  let devices: DeviceEdits | undefined;
  if (req.options.gpu === true || (req.options.devices?.length ?? 0) > 0) {
    const { resolveDevices } = await import("./cdi.js");
    devices = await resolveDevices(
      { gpu: req.options.gpu === true, devices: req.options.devices ?? [] },
      cmd.context.env,
      cmd.debug ? (line) => cmd.context.stderr.write(`burrow: debug: ${line}\n`) : undefined,
    );
  }
  const config = await cmd.config();
  const store = await cmd.store();
  const { Containers } = await import("../store/containers.js");
  const containers = new Containers(path.join(store.paths.root, "containers"));
  const { overlayPossibleAt } = await import("./overlay.js");

  // What to run: a folder, an existing named container, or an image (pulled when --pull says so).
  let args = req.args;
  let location: string | undefined;
  let container: ContainerRecord | undefined;
  let image: ImageRecord | undefined;
  let imageName: string | undefined;
  if (req.location !== undefined) {
    if (req.name !== undefined)
      throw new InvalidArgumentError("--location runs a folder as it is: it cannot be combined with --name");
    location = path.resolve(req.location);
    if (!fs.statSync(location, { throwIfNoEntry: false })?.isDirectory()) {
      throw new InvalidArgumentError(`--location ${req.location} is not a folder: give the path of a rootfs`);
    }
    if (req.target !== undefined) args = [req.target, ...args];
  } else {
    if (req.target === undefined)
      throw new InvalidArgumentError("give an image or container to run: burrow run IMAGE [COMMAND...]");
    container = req.name === undefined ? containers.find(req.target) : undefined;
    if (container) {
      image = store.readImage(container.image);
      if (!image) {
        throw new StoreError(
          `the image of container ${container.name ?? container.id.slice(0, 12)} is gone from the store: pull it again or remove the container`,
        );
      }
    } else {
      ({ image, name: imageName } = await imageFor(cmd, store, req.target, req));
    }
  }
  // The image's settings, checked before anything is made (a named container, a scratch folder).
  const imageConfig = image ? runConfig(store, image, req, imageName ?? req.target) : undefined;

  if (image) holds.push(await (await import("../store/holds.js")).holdImage(store, image.id));

  const { selectEngine } = await import("../engines.js");
  const engine = await selectEngine({
    flag: req.engine,
    saved: container?.engine,
    env: cmd.context.env.BURROW_ENGINE,
    config: config.engine,
    storeRoot: store.paths.root,
    debug: cmd.debug ? (line) => cmd.context.stderr.write(`burrow: debug: ${line}\n`) : undefined,
  });
  // BURROW_LAYER=copy forces the private copy, =fuse fuse-overlayfs (kernels whose overlay misbehaves, tests).
  const layerMode = cmd.context.env.BURROW_LAYER;
  if (layerMode !== undefined && !["", "auto", "copy", "fuse"].includes(layerMode)) {
    throw new InvalidArgumentError(`invalid BURROW_LAYER "${layerMode}": use auto, copy or fuse`);
  }
  const overlayAt = (dir: string): boolean =>
    layerMode !== "copy" && layerMode !== "fuse" && engine.supportsOverlay === true && overlayPossibleAt(dir);

  let createdHere = false;
  /** Whether the engine was asked to run: a container this run made is removed if refused before that. */
  let engineCalled = false;
  if (image && req.name !== undefined) {
    // A new named container keeps its changes in an overlay layer where this engine can mount one.
    fs.mkdirSync(containers.dir, { recursive: true });
    const rootfs = store.rootfs(image.id);
    const layer = overlayAt(containers.dir) ? "overlay" : "copy";
    container = await containers.make(
      image.id,
      imageName,
      req.name,
      layer,
      layer === "copy" ? (dir) => copyTree(rootfs, path.join(dir, "rootfs")) : undefined,
    );
    createdHere = true;
  } else if (container && container.layer === "overlay" && !overlayAt(containers.dir)) {
    // An engine without overlay (proot, say) runs a container made for one: give it a copy, which is
    // only faithful while the overlay layer holds no changes yet.
    container = containers.convertToCopy(container.id, store.rootfs(container.image), engine.name, copyTree);
  }

  // The container's own layer, or a snapshot of it while another run has it mounted (README: Containers).
  let layerUse: Awaited<ReturnType<typeof containers.useLayer>> | undefined;
  let target: RunTarget;
  if (location !== undefined) {
    target = { rootfs: location, mode: "direct", config: {} };
  } else if (container) {
    const cfg = imageConfig!;
    const dir = containers.path(container.id);
    target =
      container.layer === "overlay"
        ? {
            rootfs: store.rootfs(image!.id),
            mode: "ephemeral",
            config: cfg,
            layer: (layerUse = await containers.useLayer(container, store.paths.tmp)).layer,
          }
        : { rootfs: path.join(dir, "rootfs"), mode: "direct", config: cfg };
  } else {
    target = {
      rootfs: store.rootfs(image!.id),
      mode: "ephemeral",
      config: imageConfig!,
    };
  }

  if (layerUse && !layerUse.shared)
    cmd.warn(
      `container ${container?.name ?? container?.id.slice(0, 12)} is in use by another run: this run works on a snapshot of its layer, and its changes are discarded at exit`,
    );
  const { scratchBase, makeScratch, removeScratch } = await import("./scratch.js");
  const scratch = makeScratch(scratchBase(cmd.context.env, store.paths.tmp));
  try {
    const { planRun, hostUser } = await import("./plan.js");
    let overlay = target.mode === "ephemeral" && overlayAt(target.layer ? containers.dir : scratch);
    // A run's private layer where the kernel cannot mount it: fuse-overlayfs where installed, else a copy.
    let fuse: string | undefined;
    // (Not with --nosysdirs: its server, in the container's pid namespace, reads the container's /proc.)
    if (
      target.mode === "ephemeral" &&
      !target.layer &&
      !overlay &&
      layerMode !== "copy" &&
      !req.options.nosysdirs
    ) {
      const { fuseOverlayfs } = await import("./overlay.js");
      fuse =
        engine.supportsFuseOverlay === true
          ? await fuseOverlayfs(cmd.context.env, store.paths.root)
          : undefined;
      if (fuse === undefined && layerMode === "fuse") {
        throw new InvalidArgumentError(
          `BURROW_LAYER=fuse: the ${engine.name} engine has no usable fuse-overlayfs here (install fuse-overlayfs; /dev/fuse must be open to you; engine userns)`,
        );
      }
      overlay = fuse !== undefined;
    }
    const spec = planRun(
      target,
      { ...req.options, args },
      {
        hostEnv: cmd.context.env,
        cwd: process.cwd(),
        scratch,
        hostUser: hostUser(cmd.context.env),
        overlay,
        fuseOverlayfs: fuse,
        devices: devices && (await import("./cdi.js")).forEngine(devices, engine.name),
      },
    );
    if (target.layer && !overlay) {
      throw new StoreError(
        `container ${container?.name ?? ""} keeps its changes in an overlay, which the ${engine.name} engine cannot mount here: run it with an engine that can (userns, runc)`,
      );
    }
    const started = req.started;
    engineCalled = true;
    return await engine.run(spec, {
      scratch,
      disposableScratch: true,
      env: cmd.context.env,
      ...(started !== undefined
        ? {
            onStarted: (s: EngineStarted) =>
              started({ engine: engine.name, spec, container: container?.id, started: s }),
          }
        : {}),
    });
  } finally {
    removeScratch(scratch);
    await layerUse?.release();
    if (
      container &&
      ((req.remove && (createdHere || req.name === undefined)) || (createdHere && !engineCalled))
    )
      containers.remove(container.id, { force: true });
  }
}

// The run path, one named step after another: resolve the target (src/run/resolve-target.ts), choose the
// layer (src/run/choose-layer.ts, src/run/container-layer.ts), plan the RunSpec (src/run/plan-inputs.ts
// reads, src/run/plan-spec.ts decides), materialise the root (src/run/materialise-root.ts), engine.run,
// clean up. What it needs from the command line (services, finding and pulling images) is passed in.
import path from "node:path";
import type { Engine, EngineStarted } from "../engine-interface.js";
import type { DeviceEdits } from "./cdi.js";
import type { ImageSource, RunHost } from "./host.js";
import type { RunOptions, RunRequest } from "./options.js";
import type { ImageHold } from "../store/holds.js";
import type { ContainerRecord, Containers } from "../store/containers.js";
import type { Store } from "../store/store.js";
import { resolveTarget } from "./resolve-target.js";
import type { Target } from "./resolve-target.js";
import { layerSetting, privateLayer } from "./choose-layer.js";
import type { LayerProbes, LayerSetting } from "./choose-layer.js";
import { containerForRun } from "./container-layer.js";
import { readPlanInputs } from "./plan-inputs.js";
import { inPmixJob, planRunSpec } from "./plan-spec.js";
import type { RootLayout } from "./plan-spec.js";
import { materialiseRoot } from "./materialise-root.js";
import { fileSquashfs, imageRootDir, imageSquashfs, squashfsLower, unpackedRoot } from "./squashfs-root.js";
import type { SquashfsSource } from "./squashfs-root.js";
import { siteStoreOf, storeOf } from "../store/site-stores.js";
import type { JoinRole } from "./join.js";
import { InvalidArgumentError } from "../errors.js";
import { makeScratch, removeScratch, scratchBase } from "./scratch.js";
import { debugWriter } from "../debug-line.js";
import { isJobVar } from "./env.js";
import type { HelperCall, ReplayRecorder } from "./replay-record.js";

/** Runs the request; resolves to the exit status. */
export async function runRequest(host: RunHost, req: RunRequest, images: ImageSource): Promise<number> {
  // The image a run uses is held until the run ends: `rmi` meanwhile removes its names, not its files.
  const holds: ImageHold[] = [];
  try {
    return await runSteps(host, req, images, holds);
  } finally {
    for (const h of holds) await h.release();
  }
}

/** The steps; the image the run uses goes into `holds` (src/store/holds.ts) before its files are used. */
async function runSteps(
  host: RunHost,
  req: RunRequest,
  images: ImageSource,
  holds: ImageHold[],
): Promise<number> {
  const env = host.context.env;
  const devices = await hostDevices(host, req.options);
  const store = await host.store();
  const { containersOf } = await import("../store/containers.js");
  const containers = containersOf(store.paths);

  // 1. What to run (the image's settings checked before anything is made).
  const { target, args } = await resolveTarget(req, store, containers, images);
  // A site store's image is never held: nothing is written in a site store (src/store/site-stores.ts). An
  // image kept as one SquashFS file is held only where it is not mounted (see after the layout below).
  const holdable =
    (target.kind === "image" || target.kind === "container") && siteStoreOf(target.image) === undefined;
  const hold = async (id: string) =>
    holds.push(await (await import("../store/holds.js")).holdImage(store, id));
  const mayMount = target.kind === "image" && target.image.format === "squashfs";
  if (holdable && !mayMount) await hold(target.image.id);
  const engine = await pickEngine(host, req, store, target);
  // --join (or BURROW_JOIN=1 in a job): the ranks of a job step on this node share one container.
  const join = await joinRole(req, target, engine, env, store, debugWriter(host));

  // 2. Where its writes go: a named container's layer (made or used now), else a private one (below).
  const layer = { setting: layerSetting(env), probes: await layerProbes(env, store) };
  const made = await containerForRun(target, req.name, store, containers, engine, layer, (image) =>
    imageRootDir(store, image, env, (m) => host.warn(m)),
  );
  const container = made?.container;
  let layerUse: Awaited<ReturnType<Containers["useLayer"]>> | undefined;
  if (container?.layer === "overlay") {
    // The container's own layer, or a snapshot of it while another run has it mounted (README: Containers).
    layerUse = await containers.useLayer(container, store.paths.tmp);
    if (!layerUse.shared)
      host.warn(
        `container ${container.name ?? container.id.slice(0, 12)} is in use by another run: this run works on a snapshot of its layer, and its changes are discarded at exit`,
      );
  }
  const scratch = makeScratch(scratchBase(env, store.paths.tmp));
  /** Whether the engine was asked to run: a container this run made is removed if refused before that. */
  let engineCalled = false;
  try {
    const layout = await rootLayout(target, container, layerUse?.layer, store, containers, {
      ...layer,
      engine,
      scratch,
      nosysdirs: req.options.nosysdirs,
      user: req.options.user,
      env,
      warn: (m) => host.warn(m),
    });

    // A SquashFS image mounted by the engine needs no hold: its SquashFUSE server has the file open, which
    // `rmi` may then delete (what is open stays readable, on NFS and Lustre too); a hold is a file made and
    // removed in the store, lookups on a parallel file system's metadata server. Its unpacked copy is held.
    const mounted = layout.kind === "overlay" && layout.squashfs !== undefined;
    if (holdable && mayMount && !mounted) await hold(target.image.id);

    // 3. The plan, from what the root and the host hold.
    const forEngine = devices && (await import("./cdi.js")).forEngine(devices, engine.name);
    const config = target.kind === "folder" || target.kind === "squashfs" ? {} : target.config;
    const options = { ...req.options, args, join: join !== undefined };
    const plan = planRunSpec(
      readPlanInputs({ layout, scratch, config, options, hostEnv: env, devices: forEngine }),
    );

    // A rank that joins enters the first rank's container: nothing of its own is made.
    if (join?.role === "member") {
      engineCalled = true;
      const spec = plan.spec;
      return await engine.exec!(
        { spec, started: { pid: join.initPid, initPid: join.initPid } },
        { argv: spec.argv, env: spec.env, cwd: spec.cwd, uid: spec.uid, gid: spec.gid, tty: false },
        { scratch, env },
      );
    }

    // 4. The root on disk, as planned.
    const spec = materialiseRoot(plan, layout, scratch);
    if (join?.role === "leader") spec.linger = true;

    // 5. The run.
    const started = req.started;
    const replay = replayable(req, target, made, layout, engine, devices, join !== undefined);
    engineCalled = true;
    return await engine.run(spec, {
      scratch,
      disposableScratch: true,
      env,
      ...(replay !== undefined && target.kind === "image"
        ? {
            onHelper: (call: HelperCall) =>
              replay.record(
                { scratch, storeRoot: store.paths.root, imageId: target.image.id, held: holds.length > 0 },
                call,
              ),
          }
        : {}),
      ...(started !== undefined || join?.role === "leader"
        ? {
            onStarted: (s: EngineStarted) => {
              if (join?.role === "leader" && s.initPid !== undefined) join.started(s.initPid);
              started?.({ engine: engine.name, spec, container: container?.id, started: s });
            },
          }
        : {}),
    });
  } finally {
    if (join?.role === "leader") join.release();
    // 6. Clean up: the scratch, the layer, the container (--rm, or one this run made and never started).
    removeScratch(scratch);
    await layerUse?.release();
    if (container && (req.rm || (made?.made === true && !engineCalled)))
      containers.remove(container.id, { force: true });
  }
}

/**
 * The recorder, when this run can be replayed (src/run/replay-record.ts): an image in a private kernel
 * overlay layer through the userns engine, no named container, no device; else it is told why not.
 */
function replayable(
  req: RunRequest,
  target: Target,
  made: unknown,
  layout: RootLayout,
  engine: Engine,
  devices: DeviceEdits | undefined,
  joined: boolean,
): ReplayRecorder | undefined {
  const recorder = req.replay;
  if (recorder === undefined) return undefined;
  if (target.kind !== "image" || made !== undefined || req.name !== undefined)
    recorder.refuse("not an image run");
  else if (layout.kind !== "overlay" || layout.fuse !== undefined || layout.layer !== undefined)
    recorder.refuse("not a private kernel overlay layer");
  else if (siteStoreOf(target.image) !== undefined) recorder.refuse("an image of a site store");
  else if (joined) recorder.refuse("--join");
  else if (engine.name !== "userns") recorder.refuse("not the userns engine");
  else if (devices !== undefined) recorder.refuse("devices");
  else if (req.options.env.some((e) => isJobVar(e.split("=")[0]!))) recorder.refuse("-e sets a job variable");
  else return recorder;
  return undefined;
}

/**
 * This rank's part in its job step's shared container, when the run asks to join (`--join`, BURROW_JOIN=1
 * in a job): `--join` itself is refused where it cannot be kept (another engine, --name, --nosysdirs, no
 * image); BURROW_JOIN=1 then runs the rank alone.
 */
async function joinRole(
  req: RunRequest,
  target: Target,
  engine: Engine,
  env: NodeJS.ProcessEnv,
  store: Store,
  debug: ((line: string) => void) | undefined,
): Promise<JoinRole | undefined> {
  const { joinGroup, joinWanted } = await import("./join.js");
  if (!joinWanted(req.options.join, env)) return undefined;
  const why =
    engine.name !== "userns"
      ? `the ${engine.name} engine runs each rank in its own container (use --engine userns)`
      : req.name !== undefined || target.kind === "container"
        ? "a named container is one rank's"
        : req.options.nosysdirs
          ? "--nosysdirs leaves out the /proc the shared container's init needs"
          : target.kind === "folder"
            ? "--location runs a folder as it is"
            : undefined;
  if (why !== undefined) {
    if (!req.options.join) return undefined;
    throw new InvalidArgumentError(`--join: ${why}`);
  }
  // Ranks share a container only when it has the same shape: the image or file, and the options that shape it.
  const { args: _args, env: _env, envFiles: _files, join: _join, ...shape } = req.options;
  const what = target.kind === "squashfs" ? target.file : target.kind === "image" ? target.image.id : "";
  const role = await joinGroup(env, scratchBase(env, store.paths.tmp), JSON.stringify([what, shape]));
  debug?.(
    role.role === "leader"
      ? "--join: the first rank on this node: this run's container is the job step's"
      : `--join: entering the job step's container (its init: pid ${role.initPid})`,
  );
  return role;
}

/** `--gpu` and `--device`, resolved on the host first: a missing device fails before any pull. */
async function hostDevices(host: RunHost, options: RunOptions): Promise<DeviceEdits | undefined> {
  if (!options.gpu && options.devices.length === 0) return undefined;
  const { resolveDevices } = await import("./cdi.js");
  return resolveDevices({ gpu: options.gpu, devices: options.devices }, host.context.env, debugWriter(host));
}

/** The engine: `--engine`, else the container's own, BURROW_ENGINE, the configuration, the first usable one. */
async function pickEngine(host: RunHost, req: RunRequest, store: Store, target: Target): Promise<Engine> {
  const config = await host.config();
  const { selectEngine } = await import("../engine-registry.js");
  return selectEngine({
    flag: req.engine,
    saved: target.kind === "container" ? target.container.engine : undefined,
    env: host.context.env.BURROW_ENGINE,
    config: config.engine,
    storeRoot: store.paths.root,
    debug: debugWriter(host),
  });
}

/** The host's answers on overlays (src/run/overlay.ts). */
async function layerProbes(env: NodeJS.ProcessEnv, store: Store): Promise<LayerProbes> {
  const { fuseOverlayfs, overlayPossibleAt } = await import("./overlay.js");
  return { overlayPossibleAt, fuseOverlayfs: () => fuseOverlayfs(env, store.paths.root) };
}

/** How the root is laid out: the folder, the container's copy or layer, else the run's private layer. */
async function rootLayout(
  target: Target,
  container: ContainerRecord | undefined,
  containerLayer: { upper: string; work: string } | undefined,
  store: Store,
  containers: Containers,
  choice: {
    setting: LayerSetting;
    probes: LayerProbes;
    engine: Engine;
    scratch: string;
    nosysdirs: boolean;
    user: string | undefined;
    env: NodeJS.ProcessEnv;
    warn: (message: string) => void;
  },
): Promise<RootLayout> {
  if (target.kind === "folder") return { kind: "direct", path: target.path };
  const { setting, engine, scratch, nosysdirs, probes, env, warn, user } = choice;
  const storeRoot = store.paths.root;
  // The SquashFS file to mount, if any, and the image's root as a folder (such a file unpacked on this
  // node where it is not mounted).
  let squashfs: SquashfsSource | undefined;
  let rootDir: () => Promise<string>;
  if (target.kind === "squashfs") {
    const source = fileSquashfs(target.file, env, storeRoot);
    squashfs = source;
    rootDir = () => unpackedRoot(source, env, storeRoot, warn);
  } else {
    const { image } = target;
    squashfs = image.format === "squashfs" ? imageSquashfs(storeOf(image, store), image) : undefined;
    rootDir = () => imageRootDir(store, image, env, warn);
  }
  if (container?.layer === "copy")
    return { kind: "direct", path: path.join(containers.path(container.id), "rootfs") };
  if (container) return { kind: "overlay", lower: await rootDir(), layer: containerLayer };
  const layer = await privateLayer(setting, engine, scratch, nosysdirs, probes);
  // A SquashFS file in a private overlay: the engine mounts it as the lower, where it can.
  if (squashfs !== undefined && layer.kind === "overlay") {
    // As plan-spec's pmixUser decides: in a PMIx job without -u, the rank runs as the job's user.
    const asJobUser = inPmixJob(env) && user === undefined;
    const lower = await squashfsLower(squashfs, engine, env, storeRoot, nosysdirs, asJobUser);
    if (lower !== undefined)
      return { kind: "overlay", lower: path.join(scratch, "lower"), fuse: layer.fuse, squashfs: lower };
  }
  const rootfs = await rootDir();
  return layer.kind === "overlay"
    ? { kind: "overlay", lower: rootfs, fuse: layer.fuse }
    : { kind: "copy", from: rootfs };
}

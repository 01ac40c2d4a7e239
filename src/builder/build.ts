// `burrow build`: a Dockerfile's stages built one step after another. Each step is a cache hit (its
// record by key: src/builder/cache.ts), or done: metadata instructions change the run settings; RUN (through
// the run path, src/builder/run-step.ts), COPY, ADD and WORKDIR change the stage's root, and what they
// changed (src/builder/tree-diff.ts) becomes one layer (src/builder/layer-tar.ts). The target stage's image
// is published in the store like a pulled one, then tagged: nothing half-built is ever visible under a name.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ImageRecord, Store } from "../store/store.js";
import type { Instruction, CopyInstruction } from "../dockerfile/instructions.js";
import type { StagePlan, Stage } from "../dockerfile/stages.js";
import { DockerfileError } from "../dockerfile/errors.js";
import { BurrowError } from "../errors.js";
import { BuildCache, stepKey } from "./cache.js";
import type { CacheRecord, HistoryEntry } from "./cache.js";
import { StageState } from "./stage-state.js";
import type { RootContext, StageImage } from "./stage-state.js";
import { DEFAULT_SHELL, applyMetadata, commandArgv, createdBy, nextWorkdir } from "./image-config.js";
import type { RunSettings } from "./image-config.js";
import type { RunStepOutcome, RunStepRequest } from "./run-step.js";
import { snapshotTree, diffTree } from "./tree-diff.js";
import type { TreeChange, TreeSnapshot } from "./tree-diff.js";
import { writeLayerTar } from "./layer-tar.js";
import { randomHex } from "../store/random.js";
import { inFlight, removeScratch, sweepStaging } from "../store/staging.js";
import { RunFailedError } from "./errors.js";
import { InRoot } from "../fs/in-root.js";
import { applyOwners } from "./layer-owners.js";
import { hostPlatform } from "../registry/platform.js";

/** What to build. */
export interface BuildRequest {
  /** The context folder (absolute). */
  context: string;
  /** The Dockerfile's path, and how messages name it. */
  dockerfile: string;
  dockerfileLabel: string;
  buildArgs: Map<string, string>;
  target?: string | undefined;
  noCache: boolean;
  engine?: string | undefined;
  /** In the build's namespace of subordinate ids (src/builder/namespace.ts): files' owners are real. */
  realOwners: boolean;
}

/** What the build uses from the command that runs it. */
export interface BuildServices {
  store: Store;
  /** The image a FROM or COPY --from names: the store's, else pulled. */
  image(reference: string, platform: string | undefined): Promise<ImageRecord>;
  runStep(req: RunStepRequest): Promise<RunStepOutcome>;
  /** A progress line ("STEP 2/7: RUN ..."). */
  progress(line: string): void;
  warn(message: string): void;
  /** A --debug line, when asked for. */
  debug?: ((line: string) => void) | undefined;
  now(): Date;
}

/** A built image: its record in the store. */
export interface BuildResult {
  image: ImageRecord;
}

/** The build args every Dockerfile may use without declaring them globally: the platform built for and on. */
function platformArgs(): Map<string, string> {
  const { architecture, os, variant } = hostPlatform();
  const platform = `${os}/${architecture}${variant ? `/${variant}` : ""}`;
  const args = new Map<string, string>();
  for (const prefix of ["TARGET", "BUILD"]) {
    args.set(`${prefix}PLATFORM`, platform);
    args.set(`${prefix}OS`, os);
    args.set(`${prefix}ARCH`, architecture);
    args.set(`${prefix}VARIANT`, variant ?? "");
  }
  return args;
}

/** Reads, checks and builds the Dockerfile; resolves to the target stage's image in the store. */
export async function buildImage(req: BuildRequest, services: BuildServices): Promise<BuildResult> {
  const { parseDockerfile } = await import("../dockerfile/parse.js");
  const { splitStages, targetStage, globalArgValues, neededStages, unusedBuildArgs } =
    await import("../dockerfile/stages.js");
  let text: string;
  try {
    text = fs.readFileSync(req.dockerfile, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DockerfileError(
      0,
      code === "ENOENT"
        ? "not found: put a Dockerfile in the context folder, or name one with -f FILE"
        : `cannot read it (${code ?? String(err)}): check the path given with -f`,
      { cause: err, file: req.dockerfileLabel },
    );
  }
  const plan = splitStages(parseDockerfile(text, req.dockerfileLabel));
  const target = targetStage(plan, req.target);
  const globals = globalArgValues(plan, req.buildArgs, platformArgs());
  const stages = neededStages(plan, target, globals);
  const unused = unusedBuildArgs(plan, stages, req.buildArgs);
  if (unused.length > 0)
    services.warn(`build args not used by any ARG of the stages built: ${unused.join(", ")}`);
  try {
    return await buildStages(plan, stages, target, globals, req, services);
  } catch (err) {
    // Steps name their line: with the Dockerfile given by -f, under its own name.
    if (err instanceof DockerfileError && !err.message.startsWith(req.dockerfileLabel))
      throw err.inFile(req.dockerfileLabel);
    throw err;
  }
}

/** The folder a build works in (`tmp/build-HOST-PID-HEX`), swept when its process is gone. */
function workFolder(store: Store): string {
  const dir = path.join(store.paths.tmp, `build-${os.hostname()}-${process.pid}-${randomHex(4)}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  inFlight.add(dir);
  return dir;
}

/** Builds the target stage of `plan` and publishes its image (not yet tagged). */
export async function buildStages(
  plan: StagePlan,
  stages: Stage[],
  target: Stage,
  globals: ReadonlyMap<string, string | undefined>,
  req: BuildRequest,
  services: BuildServices,
): Promise<BuildResult> {
  const { store } = services;
  sweepStaging(store);
  const cache = new BuildCache(store.paths.buildCache, (d) => store.hasBlob(d));
  const work = workFolder(store);
  try {
    const build = new StageBuilder(plan, globals, req, services, cache, work, countSteps(stages));
    const states = new Map<number, StageState>();
    for (const stage of stages) states.set(stage.index, await build.stage(stage, states));
    const final = states.get(target.index)!;
    const { publishBuilt } = await import("./publish.js");
    const ctx = { store, work, warn: services.warn, realOwners: req.realOwners };
    return { image: await publishBuilt(final, ctx, services.now) };
  } finally {
    removeScratch(work);
  }
}

function countSteps(stages: Stage[]): number {
  return stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
}

/** The steps of the stages of one build. */
class StageBuilder {
  private step = 0;

  constructor(
    private readonly plan: StagePlan,
    private readonly globals: ReadonlyMap<string, string | undefined>,
    private readonly req: BuildRequest,
    private readonly services: BuildServices,
    private readonly cache: BuildCache,
    private readonly work: string,
    private readonly steps: number,
  ) {}

  /** Builds `stage` (the stages it needs are in `states`). */
  async stage(stage: Stage, states: Map<number, StageState>): Promise<StageState> {
    const { StageVariables, resolveBase } = await import("../dockerfile/stages.js");
    const { base, platform } = resolveBase(this.plan, stage, this.globals, this.req.buildArgs);
    this.announce(stage.from);
    let state: StageState;
    const name = stage.name ?? String(stage.index);
    if (base.kind === "stage") {
      const from = states.get(base.stage.index)!;
      const image = cloneImage(from.image);
      const vars = new StageVariables(this.globals, this.req.buildArgs, image.settings.Env ?? []);
      state = new StageState(
        name,
        { kind: "stage", state: from },
        image,
        vars,
        new Map(from.owners),
        from.key,
      );
    } else if (base.kind === "image") {
      const record = await this.baseImage(stage, base.reference, platform);
      const image = imageOf(record, this.services.store);
      const vars = new StageVariables(this.globals, this.req.buildArgs, image.settings.Env ?? []);
      const key = stepKey("image", record.id);
      state = new StageState(
        name,
        { kind: "image", id: record.id, label: base.reference },
        image,
        vars,
        new Map(),
        key,
      );
    } else {
      const image = scratchImage();
      const vars = new StageVariables(this.globals, this.req.buildArgs);
      state = new StageState(name, { kind: "scratch" }, image, vars, new Map(), stepKey("scratch"));
    }
    // The base's ONBUILD triggers run first; the new image has none of its own yet.
    const triggers = state.image.settings.OnBuild ?? [];
    if (triggers.length > 0) {
      state.image.settings = { ...state.image.settings, OnBuild: null };
      const { parseDockerfile } = await import("../dockerfile/parse.js");
      for (const text of triggers) {
        for (const i of parseDockerfile(text, "ONBUILD trigger").instructions)
          await this.instruction(state, i, states, stage);
      }
    }
    for (const i of stage.instructions) {
      this.announce(i);
      await this.instruction(state, i, states, stage);
    }
    return state;
  }

  /** The image a FROM names; a failure to find or pull it names the line. */
  private async baseImage(
    stage: Stage,
    reference: string,
    platform: string | undefined,
  ): Promise<ImageRecord> {
    try {
      return await this.services.image(reference, platform);
    } catch (err) {
      if (!(err instanceof BurrowError)) throw err;
      throw new DockerfileError(stage.from.line, `FROM ${reference}: ${err.message}`, {
        cause: err,
        file: this.req.dockerfileLabel,
      });
    }
  }

  private announce(i: Instruction): void {
    this.step++;
    this.services.progress(`STEP ${this.step}/${this.steps}: ${i.original.replace(/\s+/g, " ").trim()}`);
  }

  /** One instruction of a stage. */
  private async instruction(
    state: StageState,
    raw: Instruction,
    states: Map<number, StageState>,
    stage: Stage,
  ): Promise<void> {
    const { expandInstruction } = await import("../dockerfile/expand.js");
    const i = expandInstruction(raw, state.vars.lookup, this.plan.escape);
    const settings = state.image.settings;
    const shell = settings.Shell ?? DEFAULT_SHELL;
    switch (i.kind) {
      case "FROM":
        throw new DockerfileError(i.line, "FROM is not allowed as an ONBUILD trigger");
      case "ONBUILD":
        if (i.trigger.kind === "ONBUILD" || i.trigger.kind === "FROM" || i.trigger.kind === "MAINTAINER")
          throw new DockerfileError(i.line, `ONBUILD ${i.trigger.kind} is not allowed`);
        break;
      case "ARG": {
        state.vars.declare(i.args);
        // The values a step sees are part of what it is: a new --build-arg value misses the cache after it.
        state.key = stepKey(
          state.key,
          "ARG",
          ...i.args.map((a) => `${a.name}=${state.vars.lookup(a.name) ?? ""}`),
        );
        return;
      }
      case "ENV":
        for (const { key, value } of i.pairs) state.vars.setEnv(key, value);
        break;
      case "MAINTAINER":
        state.image.author = i.maintainer;
        break;
      case "RUN":
      case "COPY":
      case "ADD":
      case "WORKDIR":
        await this.fileStep(state, i, raw, states, stage, shell);
        return;
      default:
        break;
    }
    const next = applyMetadata(settings, i, state.cmdSetHere);
    if (next !== undefined) state.image.settings = next;
    if (i.kind === "CMD") state.cmdSetHere = true;
    // A metadata step is cached too: its record keeps its time, so an unchanged rebuild makes the same config.
    const key = stepKey(state.key, stepText(i));
    const record =
      this.cached(key) ??
      this.record(key, { created: this.now(), created_by: createdBy(raw, shell), empty_layer: true });
    state.image.history.push(record.history);
    state.key = key;
  }

  /** A step that changes files: cached, else done on the stage's root and its changes made a layer. */
  private async fileStep(
    state: StageState,
    i: Instruction,
    raw: Instruction,
    states: Map<number, StageState>,
    stage: Stage,
    shell: readonly string[],
  ): Promise<void> {
    const settings = state.image.settings;
    let identity: string[];
    /** Does the step on the root; false when it changed nothing (no walk needed to tell). */
    let act: (root: string) => Promise<boolean | void>;
    if (i.kind === "RUN") {
      const argv = commandArgv(i.command, shell);
      // Where owners are not real (no namespace of subordinate ids), a step's layer differs: not the same step.
      const owners = this.req.realOwners ? "real owners" : "root owns";
      identity = [JSON.stringify(argv), settings.User ?? "", settings.WorkingDir ?? "/", owners];
      act = (root) => this.run(root, i.line, argv, state, i.original);
    } else if (i.kind === "WORKDIR") {
      const dir = nextWorkdir(settings.WorkingDir, i.value);
      state.image.settings = { ...settings, WorkingDir: dir };
      identity = [dir];
      act = async (root) =>
        InRoot.with(root, (r) => {
          if (r.isDir(dir)) return false;
          r.mkdirAll(dir, "follow");
          return true;
        });
    } else if (i.kind === "COPY" || i.kind === "ADD") {
      const copy = await this.copyPlan(i, state, states, stage);
      identity = copy.identity;
      act = copy.act;
    } else {
      throw new Error(`not a file step: ${i.kind}`);
    }
    const key = stepKey(state.key, stepText(i), ...identity);
    const hit = this.cached(key);
    if (hit !== undefined) {
      this.services.progress("--> Using cache " + key.slice(0, 12));
      if (hit.layer !== undefined) state.addLayer(hit.layer, false);
      state.image.history.push(hit.history);
      state.key = key;
      return;
    }
    const times = new StepTimes();
    const root = await state.root(this.rootContext());
    const before = state.snapshot ?? snapshotTree(root);
    state.snapshot = undefined;
    times.mark("root");
    let changes: TreeChange[] = [];
    const changed = await act(root);
    times.mark("step");
    if (changed === false) state.snapshot = before;
    else {
      const after: TreeSnapshot = new Map();
      changes = diffTree(root, before, after);
      state.snapshot = after;
      times.mark("diff");
    }
    const history: HistoryEntry = { created: this.now(), created_by: createdBy(raw, shell) };
    const record: CacheRecord = { history };
    if (changes.length > 0) {
      const file = path.join(this.work, `layer-${randomHex(4)}.tar.gz`);
      const layer = await writeLayerTar(root, changes, file, {
        owners: state.owners,
        ownersFromStat: this.req.realOwners,
      });
      await this.storeBlob(file, layer.digest);
      record.layer = layer;
      state.addLayer(layer, true);
      times.mark("layer");
    } else {
      history.empty_layer = true;
    }
    this.services.debug?.(`${i.kind} on line ${i.line}: ${times}, ${changes.length} change(s)`);
    this.cache.put(key, record);
    state.image.history.push(history);
    state.key = key;
  }

  /** A RUN: the command on the root; the mount points it made for /etc files, /proc, /dev and /sys go again. */
  private async run(
    root: string,
    line: number,
    argv: string[],
    state: StageState,
    text: string,
  ): Promise<void> {
    const placeholders = missingMountPoints(root);
    const settings = state.image.settings;
    const outcome = await this.services.runStep({
      root,
      argv,
      env: state.vars.runEnv(),
      user: settings.User,
      workdir: settings.WorkingDir || "/",
      engine: this.req.engine,
    });
    removeMountPoints(root, placeholders);
    if (outcome.status !== 0) throw new RunFailedError(this.req.dockerfileLabel, line, text, outcome);
  }

  /** What a COPY or ADD step is (its sources' digest) and how it is done. */
  private async copyPlan(
    i: CopyInstruction,
    state: StageState,
    states: Map<number, StageState>,
    stage: Stage,
  ): Promise<{ identity: string[]; act: (root: string) => Promise<void> }> {
    const { copyStep, copySourcesDigest } = await import("./copy-step.js");
    const { IgnoreMatcher } = await import("../dockerfile/ignore.js");
    const settings = state.image.settings;
    const common = {
      add: i.kind === "ADD",
      sources: i.sources,
      dest: i.dest,
      workdir: settings.WorkingDir || "/",
      line: i.line,
      ...(i.chown !== undefined ? { chown: i.chown } : {}),
      ...(i.chmod !== undefined ? { chmod: i.chmod } : {}),
    };
    if (i.from === undefined) {
      const from = {
        kind: "context" as const,
        dir: this.req.context,
        ignore: await this.ignore(IgnoreMatcher),
      };
      const digest = await copySourcesDigest({ ...common, from });
      return {
        identity: [digest],
        act: (root) => this.copy(copyStep, { ...common, from, root }, state),
      };
    }
    const { copySource, fromRef } = await import("../dockerfile/stages.js");
    const source = copySource(this.plan, fromRef(this.plan, i.from, this.globals, i.line), stage, i.line);
    if ("stage" in source) {
      const other = states.get(source.stage.index)!;
      return {
        identity: ["stage", other.key],
        act: async (root) => {
          const dir = await other.root(this.rootContext());
          const from = { kind: "root" as const, dir, label: `stage ${other.name}` };
          await this.copy(copyStep, { ...common, from, root }, state);
        },
      };
    }
    const record = await this.services.image(source.image, undefined);
    return {
      identity: ["image", record.id],
      act: (root) => {
        const from = {
          kind: "root" as const,
          dir: this.services.store.rootfs(record.id),
          label: `image ${source.image}`,
        };
        return this.copy(copyStep, { ...common, from, root }, state);
      },
    };
  }

  /**
   * Runs the COPY or ADD; the owners it gives are made real in the build's namespace of subordinate ids
   * (a later RUN sees them, and the layer reads them from the files), else kept in the stage's table.
   */
  private async copy(
    copyStep: typeof import("./copy-step.js").copyStep,
    req: Omit<import("./copy-step.js").CopyRequest, "owners">,
    state: StageState,
  ): Promise<void> {
    if (!this.req.realOwners) return copyStep({ ...req, owners: state.owners });
    const given = new Map<string, { uid: number; gid: number }>();
    await copyStep({ ...req, owners: given });
    const owners = new Map<string, [number, number]>();
    for (const [guest, o] of given)
      if (o.uid !== 0 || o.gid !== 0) owners.set(guest.replace(/^\/+/, ""), [o.uid, o.gid]);
    applyOwners(req.root, owners);
  }

  private ignoreMatcher: unknown;

  /** The context's .dockerignore, read once. */
  private async ignore(Matcher: typeof import("../dockerfile/ignore.js").IgnoreMatcher) {
    if (this.ignoreMatcher === undefined) {
      let text = "";
      try {
        text = fs.readFileSync(path.join(this.req.context, ".dockerignore"), "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      this.ignoreMatcher = new Matcher(text);
    }
    return this.ignoreMatcher as InstanceType<typeof Matcher>;
  }

  /** Moves a layer written in the work folder into the store's blobs (kept if the store has it already). */
  private async storeBlob(file: string, digest: string): Promise<void> {
    const { store } = this.services;
    const { withLock } = await import("../store/lock.js");
    const { digestHex } = await import("../store/paths.js");
    await withLock(store.paths.locks, `blob-${digestHex(digest)}`, async () => {
      if (store.hasBlob(digest)) fs.rmSync(file, { force: true });
      else fs.renameSync(file, store.blobPath(digest));
    });
  }

  private rootContext(): RootContext {
    const { store, warn } = this.services;
    return { store, work: this.work, warn, realOwners: this.req.realOwners };
  }

  private cached(key: string): CacheRecord | undefined {
    return this.req.noCache ? undefined : this.cache.get(key);
  }

  private record(key: string, history: HistoryEntry): CacheRecord {
    const record = { history };
    this.cache.put(key, record);
    return record;
  }

  private now(): string {
    return this.services.now().toISOString();
  }
}

/** How long the parts of a step took, for --debug. */
class StepTimes {
  private last = performance.now();
  private readonly parts: string[] = [];

  mark(part: string): void {
    const now = performance.now();
    this.parts.push(`${part} ${Math.round(now - this.last)} ms`);
    this.last = now;
  }

  toString(): string {
    return this.parts.join(", ");
  }
}

/** Where the run path binds /etc files and mounts /proc, /dev and /sys: left empty by a RUN, they go again. */
const MOUNT_POINTS = ["etc/hosts", "etc/resolv.conf", "etc/hostname", "proc", "dev", "sys"];

/** The mount points `root` lacks before a RUN, with the times of their folders then. */
function missingMountPoints(root: string): { rel: string; folder: fs.Stats }[] {
  const missing: { rel: string; folder: fs.Stats }[] = [];
  for (const rel of MOUNT_POINTS) {
    const p = path.join(root, rel);
    if (fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined) continue;
    const folder = fs.lstatSync(path.dirname(p), { throwIfNoEntry: false });
    if (folder?.isDirectory()) missing.push({ rel, folder });
  }
  return missing;
}

/**
 * Removes each mount point the run made that is still empty, and puts its folder's modification time
 * back: made and removed within the step, it leaves no trace in the step's layer.
 */
function removeMountPoints(root: string, made: { rel: string; folder: fs.Stats }[]): void {
  for (const { rel, folder } of made) {
    const p = path.join(root, rel);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined) continue;
    if (st.isFile() && st.size === 0) fs.rmSync(p);
    else if (st.isDirectory() && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
    else continue;
    fs.utimesSync(path.dirname(p), folder.atime, folder.mtime);
  }
}

/** An instruction as the cache keys it: what it says, not where it is. */
function stepText(i: Instruction): string {
  return JSON.stringify(i, (k, v: unknown) => (k === "line" || k === "endLine" ? undefined : v));
}

/** The image a stage starts from when it builds on a stored image. */
function imageOf(record: ImageRecord, store: Store): StageImage {
  const blob = store.readBlob(record.configDigest);
  const config = (blob ? JSON.parse(blob.toString("utf8")) : {}) as {
    architecture?: string;
    os?: string;
    variant?: string;
    author?: string;
    config?: RunSettings | null;
    rootfs?: { diff_ids?: string[] };
    history?: HistoryEntry[];
  };
  return {
    architecture: config.architecture ?? record.platform.architecture,
    os: config.os ?? record.platform.os,
    variant: config.variant ?? record.platform.variant,
    author: config.author,
    settings: { ...(config.config ?? {}) },
    layers: record.layers.map((l) => ({ ...l })),
    diffIds: [...(record.diffIds ?? config.rootfs?.diff_ids ?? [])],
    history: [...(config.history ?? [])],
  };
}

/** A stage from scratch: no files, no settings, the host's platform. */
function scratchImage(): StageImage {
  const { architecture, os, variant } = hostPlatform();
  return { architecture, os, variant, settings: {}, layers: [], diffIds: [], history: [] };
}

function cloneImage(image: StageImage): StageImage {
  return JSON.parse(JSON.stringify(image)) as StageImage;
}

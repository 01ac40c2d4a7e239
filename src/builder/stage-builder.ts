// The steps of a build's stages (src/builder/build.ts): each a cache hit (its record by key,
// src/builder/cache.ts) or done: metadata instructions change the run settings; RUN (through the run path,
// src/builder/run-step.ts), COPY and ADD (src/builder/copy-plan.ts) and WORKDIR change the stage's root, and
// what they changed (src/builder/tree-diff.ts) becomes one layer (src/builder/layer-tar.ts).
import fs from "node:fs";
import path from "node:path";
import type { ImageRecord } from "../store/store.js";
import type { Instruction } from "../dockerfile/instructions.js";
import type { StagePlan, Stage } from "../dockerfile/stages.js";
import { DockerfileError } from "../dockerfile/errors.js";
import { BurrowError } from "../errors.js";
import { stepKey } from "./cache.js";
import type { BuildCache, CacheRecord, HistoryEntry } from "./cache.js";
import { StageState, cloneImage, imageOf, prepareImageRoot, scratchImage } from "./stage-state.js";
import type { RootContext } from "./stage-state.js";
import { DEFAULT_SHELL, applyMetadata, commandArgv, createdBy, nextWorkdir } from "./image-config.js";
import { snapshotRoot, diffTree } from "./tree-diff.js";
import { overlayLayers } from "./overlay-root.js";
import type { TreeChange, TreeSnapshot } from "./tree-diff.js";
import { writeLayerTar } from "./layer-tar.js";
import { randomHex } from "../store/random.js";
import { RunFailedError } from "./errors.js";
import { InRoot } from "../fs/in-root.js";
import { CopyPlanner } from "./copy-plan.js";
import { missingMountPoints, removeMountPoints } from "./mount-points.js";
import type { BuildRequest, BuildServices } from "./build.js";

/** The steps of the stages of one build. */
export class StageBuilder {
  private step = 0;
  private readonly copies: CopyPlanner;
  private readonly steps: number;
  /** Roots of later stages' images being copied while earlier stages build (by stage index). */
  private readonly prepared = new Map<number, { id: string; root: Promise<string> }>();

  constructor(
    private readonly plan: StagePlan,
    private readonly globals: ReadonlyMap<string, string | undefined>,
    private readonly req: BuildRequest,
    private readonly services: BuildServices,
    private readonly cache: BuildCache,
    private readonly work: string,
    private readonly stages: Stage[],
  ) {
    this.steps = countSteps(stages);
    this.copies = new CopyPlanner({
      plan,
      globals,
      context: req.context,
      root: this.rootContext(),
      image: (reference, platform) => services.image(reference, platform),
    });
  }

  /**
   * Once a step must be done (not taken from the cache), the later stages on a stored image are likely to
   * need their roots too: their copies start now, beside this stage's steps.
   */
  private async prepareLater(current: Stage): Promise<void> {
    const { resolveBase } = await import("../dockerfile/stages.js");
    for (const stage of this.stages) {
      if (stage.index <= current.index || this.prepared.has(stage.index)) continue;
      const { base, platform } = resolveBase(this.plan, stage, this.globals, this.req.buildArgs);
      if (base.kind !== "image" || platform !== undefined) continue;
      const record = await this.services.local(base.reference);
      if (record === undefined) continue;
      const dir = path.join(this.work, `ahead-${stage.name ?? stage.index}`);
      const copy = prepareImageRoot(this.rootContext(), record.id, base.reference, dir);
      // Awaited by the stage that uses it; a failure is reported there (or nowhere, if no step needs it).
      copy.catch(() => {});
      this.prepared.set(stage.index, { id: record.id, root: copy });
    }
  }

  /** Waits for the copies started ahead to end (before the work folder is removed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.prepared.values()].map((p) => p.root));
  }

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
      const ahead = this.prepared.get(stage.index);
      const prepared = ahead?.id === record.id ? ahead.root : undefined;
      state = new StageState(
        name,
        { kind: "image", id: record.id, label: base.reference, prepared },
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
      const copy = await this.copies.plan(i, state, states, stage);
      identity = copy.identity;
      act = copy.act;
    } else {
      throw new Error(`not a file step: ${i.kind}`);
    }
    const key = stepKey(state.key, stepText(i), ...identity);
    const hit = this.cached(key);
    if (hit === undefined) await this.prepareLater(stage);
    if (hit !== undefined) {
      this.services.progress("--> Using cache " + key.slice(0, 12));
      if (hit.layer !== undefined) state.addLayer(hit.layer, false);
      state.image.history.push(hit.history);
      state.key = key;
      return;
    }
    const times = new StepTimes();
    const root = await state.root(this.rootContext());
    const layers = overlayLayers(root);
    const before = state.snapshot ?? snapshotRoot(root, layers);
    state.snapshot = undefined;
    times.mark("root");
    let changes: TreeChange[] = [];
    const changed = await act(root);
    times.mark("step");
    if (changed === false) state.snapshot = before;
    else {
      const after: TreeSnapshot = new Map();
      changes = diffTree(root, before, after, layers);
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
        clampMtime: this.epoch(),
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

  /** A step's time: SOURCE_DATE_EPOCH when the build is given it (a reproducible build), else now. */
  private now(): string {
    const epoch = this.epoch();
    return (epoch !== undefined ? new Date(epoch * 1000) : this.services.now()).toISOString();
  }

  /** --build-arg SOURCE_DATE_EPOCH=SECONDS, as BuildKit takes it: the steps' time and the layers' latest mtime. */
  private epoch(): number | undefined {
    const value = this.req.buildArgs.get("SOURCE_DATE_EPOCH");
    if (value === undefined) return undefined;
    if (!/^\d{1,12}$/.test(value))
      throw new DockerfileError(0, `SOURCE_DATE_EPOCH=${value}: give whole seconds since 1970`, {
        file: this.req.dockerfileLabel,
      });
    return Number(value);
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

/** An instruction as the cache keys it: what it says, not where it is. */
function stepText(i: Instruction): string {
  return JSON.stringify(i, (k, v: unknown) => (k === "line" || k === "endLine" ? undefined : v));
}

function countSteps(stages: Stage[]): number {
  return stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
}

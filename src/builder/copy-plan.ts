// The COPY and ADD steps of a build: what a step is for the cache (its sources' digest, or the stage or
// image it copies from) and how it is done (src/builder/copy-step.ts), with the owners it gives made real in
// the build's namespace of subordinate ids.
import fs from "node:fs";
import path from "node:path";
import type { ImageRecord } from "../store/store.js";
import type { CopyInstruction } from "../dockerfile/instructions.js";
import type { Stage, StagePlan } from "../dockerfile/stages.js";
import type { IgnoreMatcher } from "../dockerfile/ignore.js";
import type { CopyRequest, copyStep as CopyStepFn } from "./copy-step.js";
import type { RootContext, StageState } from "./stage-state.js";
import { applyOwners } from "./layer-owners.js";

/** What COPY and ADD steps need from the build. */
export interface CopyContext {
  plan: StagePlan;
  globals: ReadonlyMap<string, string | undefined>;
  /** The context folder. */
  context: string;
  root: RootContext;
  /** The image COPY --from names, when it names no stage. */
  image(reference: string, platform: string | undefined): Promise<ImageRecord>;
}

/** A COPY or ADD step: its parts of the step's cache key, and the step itself on a root. */
export interface CopyPlan {
  identity: string[];
  act(root: string): Promise<void>;
}

/** Plans the COPY and ADD steps of one build (the context's .dockerignore read once). */
export class CopyPlanner {
  private ignoreMatcher: IgnoreMatcher | undefined;

  constructor(private readonly ctx: CopyContext) {}

  /** What a COPY or ADD step is (its sources' digest) and how it is done. */
  async plan(
    i: CopyInstruction,
    state: StageState,
    states: Map<number, StageState>,
    stage: Stage,
  ): Promise<CopyPlan> {
    const { copyStep, copySourcesDigest } = await import("./copy-step.js");
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
        dir: this.ctx.context,
        ignore: await this.ignore(),
      };
      const digest = await copySourcesDigest({ ...common, from });
      return {
        identity: [digest],
        act: (root) => this.copy(copyStep, { ...common, from, root }, state),
      };
    }
    const { copySource, fromRef } = await import("../dockerfile/stages.js");
    const source = copySource(
      this.ctx.plan,
      fromRef(this.ctx.plan, i.from, this.ctx.globals, i.line),
      stage,
      i.line,
    );
    if ("stage" in source) {
      const other = states.get(source.stage.index)!;
      return {
        identity: ["stage", other.key],
        act: async (root) => {
          const dir = await other.root(this.ctx.root);
          const from = { kind: "root" as const, dir, label: `stage ${other.name}` };
          await this.copy(copyStep, { ...common, from, root }, state);
        },
      };
    }
    const record = await this.ctx.image(source.image, undefined);
    return {
      identity: ["image", record.id],
      act: async (root) => {
        const { store, warn } = this.ctx.root;
        const { imageRootDir } = await import("../run/squashfs-root.js");
        const from = {
          kind: "root" as const,
          dir: await imageRootDir(store, record, process.env, warn),
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
    copyStep: typeof CopyStepFn,
    req: Omit<CopyRequest, "owners">,
    state: StageState,
  ): Promise<void> {
    if (!this.ctx.root.realOwners) return copyStep({ ...req, owners: state.owners });
    const given = new Map<string, { uid: number; gid: number }>();
    await copyStep({ ...req, owners: given });
    const owners = new Map<string, [number, number]>();
    for (const [guest, o] of given)
      if (o.uid !== 0 || o.gid !== 0) owners.set(guest.replace(/^\/+/, ""), [o.uid, o.gid]);
    applyOwners(req.root, owners);
  }

  /** The context's .dockerignore, read once. */
  private async ignore(): Promise<IgnoreMatcher> {
    if (this.ignoreMatcher === undefined) {
      const { IgnoreMatcher: Matcher } = await import("../dockerfile/ignore.js");
      let text = "";
      try {
        text = fs.readFileSync(path.join(this.ctx.context, ".dockerignore"), "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      this.ignoreMatcher = new Matcher(text);
    }
    return this.ignoreMatcher;
  }
}

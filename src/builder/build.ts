// `burrow build`: the Dockerfile read and checked, its needed stages built one step after another in a work
// folder (src/builder/stage-builder.ts), and the target stage's image published in the store like a pulled
// one (src/builder/publish.ts); the command tags it then: nothing half-built is ever visible under a name.
import fs from "node:fs";
import type { ImageRecord, Store } from "../store/store.js";
import type { StagePlan, Stage } from "../dockerfile/stages.js";
import { DockerfileError } from "../dockerfile/errors.js";
import { BuildCache } from "./cache.js";
import type { StageState } from "./stage-state.js";
import type { RunStepOutcome, RunStepRequest } from "./run-step.js";
import type { SquashfsOutput } from "../store/squashfs.js";
import { removeScratch, scratchPath, sweepStaging } from "../store/staging.js";
import { StageBuilder } from "./stage-builder.js";
import { unmountOverlays } from "./overlay-root.js";
import { hostPlatform } from "../registry/platform.js";

/** What to build. */
export interface BuildRequest {
  /** The context folder (absolute). */
  context: string;
  /** The Dockerfile's path ("-": stdin), and how messages name it. */
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
  /** The image a reference names in the store, if it is there (nothing pulled). */
  local(reference: string): Promise<ImageRecord | undefined>;
  runStep(req: RunStepRequest): Promise<RunStepOutcome>;
  /** A progress line ("STEP 2/7: RUN ..."). */
  progress(line: string): void;
  warn(message: string): void;
  /** A --debug line, when asked for. */
  debug?: ((line: string) => void) | undefined;
  now(): Date;
  /** The store's squashfs format's tools (BURROW_IMAGE_FORMAT=squashfs): the image is kept as one file. */
  squashfs?: SquashfsOutput | undefined;
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
    // "-": stdin (a pipe, a file or a socket; read by descriptor, which /dev/stdin cannot do for a socket).
    text = fs.readFileSync(req.dockerfile === "-" ? 0 : req.dockerfile, "utf8");
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
  // SOURCE_DATE_EPOCH is the builder's own (src/builder/stage-builder.ts), as BuildKit takes it.
  const unused = unusedBuildArgs(plan, stages, req.buildArgs).filter((n) => n !== "SOURCE_DATE_EPOCH");
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
  const dir = scratchPath(store, "build");
  fs.mkdirSync(dir, { mode: 0o700 });
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
  let build: StageBuilder | undefined;
  try {
    build = new StageBuilder(plan, globals, req, services, cache, work, stages);
    const states = new Map<number, StageState>();
    for (const stage of stages) states.set(stage.index, await build.stage(stage, states));
    const final = states.get(target.index)!;
    const { publishBuilt } = await import("./publish.js");
    const ctx = { store, work, warn: services.warn, realOwners: req.realOwners };
    return { image: await publishBuilt(final, ctx, services.now, services.squashfs) };
  } finally {
    await build?.settled();
    unmountOverlays(work);
    removeScratch(work);
  }
}

// Stages and build args: a Dockerfile split at each FROM, `--target` resolved, FROM's base resolved to
// scratch, an earlier stage (by name or index) or an image, and the ARG/ENV scoping rules of Docker's
// reference (global ARGs before FROM serve FROM lines; a stage sees one only after redeclaring it;
// --build-arg overrides defaults; ENV wins over ARG; the proxy args need no declaration).
import { DockerfileError } from "./errors.js";
import { expandInstruction } from "./expand.js";
import { SubstitutionError, substituteWord } from "./substitute.js";
import type {
  ArgDeclaration,
  ArgInstruction,
  Dockerfile,
  FromInstruction,
  Instruction,
} from "./instructions.js";

/** One stage: its FROM and the instructions after it, up to the next FROM. */
export interface Stage {
  /** 0-based position, as `COPY --from=0` names it. */
  index: number;
  /** The `AS` name, lower-cased. */
  name?: string;
  from: FromInstruction;
  instructions: Instruction[];
}

/** A Dockerfile's global ARGs (before the first FROM) and its stages. */
export interface StagePlan {
  escape: "\\" | "`";
  globalArgs: ArgInstruction[];
  stages: Stage[];
}

/** Predefined args: usable without an ARG line, set only by --build-arg, left out of history. */
export const PROXY_ARGS: readonly string[] = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "FTP_PROXY",
  "ftp_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
];

/** Splits a parsed Dockerfile into stages; only ARG may come before the first FROM; names are unique. */
export function splitStages(dockerfile: Dockerfile): StagePlan {
  const plan: StagePlan = { escape: dockerfile.escape, globalArgs: [], stages: [] };
  const names = new Map<string, number>();
  for (const instruction of dockerfile.instructions) {
    if (instruction.kind === "FROM") {
      if (instruction.name !== undefined) {
        const earlier = names.get(instruction.name);
        if (earlier !== undefined) {
          throw new DockerfileError(
            instruction.line,
            `duplicate stage name "${instruction.name}" (first on line ${earlier})`,
          );
        }
        names.set(instruction.name, instruction.line);
      }
      const stage: Stage = { index: plan.stages.length, from: instruction, instructions: [] };
      if (instruction.name !== undefined) stage.name = instruction.name;
      plan.stages.push(stage);
    } else if (plan.stages.length > 0) plan.stages.at(-1)!.instructions.push(instruction);
    else if (instruction.kind === "ARG") plan.globalArgs.push(instruction);
    else {
      throw new DockerfileError(
        instruction.line,
        `${instruction.kind} before the first FROM: only ARG may come before FROM`,
      );
    }
  }
  if (plan.stages.length === 0)
    throw new DockerfileError(0, "no FROM instruction: a Dockerfile must start a stage with FROM");
  return plan;
}

/** The stage `--target` names (by name, case-insensitive), or the last stage when no target is given. */
export function targetStage(plan: StagePlan, target?: string): Stage {
  if (target === undefined || target === "") return plan.stages.at(-1)!;
  const stage = plan.stages.find((s) => s.name === target.toLowerCase());
  if (stage === undefined) {
    const known = plan.stages.filter((s) => s.name !== undefined).map((s) => s.name);
    throw new DockerfileError(
      0,
      `target stage "${target}" could not be found` +
        (known.length > 0 ? ` (stages: ${known.join(", ")})` : " (no stage has a name)"),
    );
  }
  return stage;
}

/** A stage that comes before `before` (the stage index asking), named by its name or its index. */
export function findEarlierStage(plan: StagePlan, ref: string, before: number): Stage | undefined {
  if (/^\d+$/.test(ref)) {
    const index = Number(ref);
    return index < before ? plan.stages[index] : undefined;
  }
  return plan.stages.find((s) => s.index < before && s.name === ref.toLowerCase());
}

/** The stage COPY --from=ref (already substituted) takes files from, an image reference when it names none. */
export function copySource(
  plan: StagePlan,
  ref: string,
  stage: Stage,
  line: number,
): { stage: Stage } | { image: string } {
  const found = findEarlierStage(plan, ref, stage.index);
  if (found !== undefined) return { stage: found };
  if (/^\d+$/.test(ref)) {
    throw new DockerfileError(
      line,
      `COPY --from=${ref}: there is no stage ${ref} before this one (stage ${stage.index})`,
    );
  }
  if (ref.toLowerCase() === stage.name)
    throw new DockerfileError(line, `COPY --from=${ref}: a stage cannot copy from itself`);
  if (plan.stages.some((s) => s.name === ref.toLowerCase())) {
    throw new DockerfileError(line, `COPY --from=${ref}: stage "${ref}" comes after this one`);
  }
  return { image: ref };
}

/** The values of the global ARGs (with --build-arg over defaults); `builtins` are implicit globals (TARGETARCH). */
export function globalArgValues(
  plan: StagePlan,
  buildArgs: ReadonlyMap<string, string>,
  builtins: ReadonlyMap<string, string> = new Map(),
): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>(builtins);
  for (const instruction of plan.globalArgs) {
    const lookup = (name: string): string | undefined => values.get(name) ?? proxyArg(name, buildArgs);
    for (const arg of expandInstruction(instruction, lookup, plan.escape).args) {
      values.set(arg.name, buildArgs.get(arg.name) ?? arg.default ?? values.get(arg.name));
    }
  }
  return values;
}

/** Where a stage's files start from. */
export type Base =
  { kind: "scratch" } | { kind: "stage"; stage: Stage } | { kind: "image"; reference: string };

/** The stage's base, its FROM substituted with the global ARGs; an empty name is an error naming the line. */
export function resolveBase(
  plan: StagePlan,
  stage: Stage,
  globals: ReadonlyMap<string, string | undefined>,
  buildArgs: ReadonlyMap<string, string> = new Map(),
): { base: Base; platform?: string } {
  const lookup = (name: string): string | undefined => globals.get(name) ?? proxyArg(name, buildArgs);
  const from = expandInstruction(stage.from, lookup, plan.escape);
  if (from.image === "")
    throw new DockerfileError(from.line, `FROM: base name (${stage.from.image}) should not be blank`);
  const platform = from.platform === undefined ? {} : { platform: from.platform };
  if (from.image.toLowerCase() === "scratch") return { base: { kind: "scratch" }, ...platform };
  const earlier = plan.stages.find((s) => s.index < stage.index && s.name === from.image.toLowerCase());
  if (earlier !== undefined) return { base: { kind: "stage", stage: earlier }, ...platform };
  return { base: { kind: "image", reference: from.image }, ...platform };
}

/** The COPY --from value substituted with the global ARGs only (BuildKit resolves it before the build). */
export function fromRef(
  plan: StagePlan,
  raw: string,
  globals: ReadonlyMap<string, string | undefined>,
  line: number,
): string {
  const lookup = (name: string): string | undefined => globals.get(name);
  try {
    return substituteWord(raw, lookup, plan.escape);
  } catch (error) {
    if (error instanceof SubstitutionError)
      throw new DockerfileError(line, `COPY --from: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The stages a build of `target` needs, in build order: its base stages and COPY --from stages, transitively. */
export function neededStages(
  plan: StagePlan,
  target: Stage,
  globals: ReadonlyMap<string, string | undefined>,
): Stage[] {
  const needed = new Set<number>();
  const visit = (stage: Stage): void => {
    if (needed.has(stage.index)) return;
    needed.add(stage.index);
    const base = resolveBase(plan, stage, globals).base;
    if (base.kind === "stage") visit(base.stage);
    for (const i of stage.instructions) {
      if (i.kind !== "COPY" || i.from === undefined) continue;
      const source = copySource(plan, fromRef(plan, i.from, globals, i.line), stage, i.line);
      if ("stage" in source) visit(source.stage);
    }
  };
  visit(target);
  return plan.stages.filter((s) => needed.has(s.index));
}

function proxyArg(name: string, buildArgs: ReadonlyMap<string, string>): string | undefined {
  return PROXY_ARGS.includes(name) ? buildArgs.get(name) : undefined;
}

/** The names of --build-arg values that no ARG of the given stages (nor the globals) declares, proxies aside. */
export function unusedBuildArgs(
  plan: StagePlan,
  stages: readonly Stage[],
  buildArgs: ReadonlyMap<string, string>,
): string[] {
  const declared = new Set<string>();
  const declare = (i: Instruction): void => {
    if (i.kind === "ARG") for (const a of i.args) declared.add(a.name);
  };
  plan.globalArgs.forEach(declare);
  for (const stage of stages) stage.instructions.forEach(declare);
  return [...buildArgs.keys()].filter((name) => !declared.has(name) && !PROXY_ARGS.includes(name)).sort();
}

/** The variables one stage sees as its build goes: the base image's Env, ENV lines, and its declared ARGs. */
export class StageVariables {
  private readonly env = new Map<string, string>();
  private readonly args = new Map<string, string | undefined>();

  /** `baseEnv` is the base image config's Env ("K=V" strings). */
  constructor(
    private readonly globals: ReadonlyMap<string, string | undefined>,
    private readonly buildArgs: ReadonlyMap<string, string>,
    baseEnv: readonly string[] = [],
  ) {
    for (const entry of baseEnv) {
      const eq = entry.indexOf("=");
      if (eq > 0) this.env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
  }

  /** Declares ARGs (defaults already substituted): --build-arg, else the default, else the global value. */
  declare(args: readonly ArgDeclaration[]): void {
    for (const arg of args) {
      this.args.set(arg.name, this.buildArgs.get(arg.name) ?? arg.default ?? this.globals.get(arg.name));
    }
  }

  /** Sets an ENV variable (it wins over an ARG of the same name from now on). */
  setEnv(key: string, value: string): void {
    this.env.set(key, value);
  }

  /** The value substitution sees: ENV, then a declared ARG, then a predefined proxy arg. */
  readonly lookup = (name: string): string | undefined => {
    if (this.env.has(name)) return this.env.get(name);
    if (this.args.has(name)) return this.args.get(name);
    return proxyArg(name, this.buildArgs);
  };

  /** The config's Env as "K=V" strings, in the order they were first set. */
  configEnv(): string[] {
    return [...this.env].map(([k, v]) => `${k}=${v}`);
  }

  /** The ARGs with a value that a RUN sees besides the config Env (ENV wins over an ARG), proxies included. */
  runArgs(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.args) if (v !== undefined && !this.env.has(k)) out.push(`${k}=${v}`);
    for (const name of PROXY_ARGS) {
      const v = this.buildArgs.get(name);
      if (v !== undefined && !this.args.has(name) && !this.env.has(name)) out.push(`${name}=${v}`);
    }
    return out;
  }

  /** A RUN's whole environment: the config Env, then the args it sees. */
  runEnv(): string[] {
    return [...this.configEnv(), ...this.runArgs()];
  }
}

// The engine registry (engines/<name>/, loaded lazily) and the choice of the engine a run uses.
import type { Engine, ProbeResult } from "./engine-interface.js";
import { EngineUnavailableError, InvalidArgumentError } from "./errors.js";

/** What an engine is made with: the store root (for its `bin/`) and burrow's environment. */
export interface EngineContext {
  storeRoot: string | undefined;
  env: NodeJS.ProcessEnv;
  /**
   * The flavour asked for after a colon in an engine setting (`proot:noseccomp`, `runc:crun`), as saved
   * by `burrow setup` or given to `--engine`; undefined for the engine's default. Each engine documents
   * the variants it reads and refuses others in its probe.
   */
  variant?: string | undefined;
}

/** An engine module: `engines/<name>/index.js` exports this factory. */
export interface EngineModule {
  createEngine(ctx: EngineContext): Engine;
}

/**
 * The implemented engines, in the order they are tried when none is asked for (runc, then proot,
 * follow userns as they land). Each is imported only when it is used.
 */
const registry: Record<string, () => Promise<EngineModule>> = {
  userns: () => import("../engines/userns/index.js"),
  runc: () => import("../engines/runc/index.js"),
  proot: () => import("../engines/proot/index.js"),
};

/** The engine names burrow knows, in preference order. */
export const engineNames: readonly string[] = Object.keys(registry);

/** Where the engine a run uses was named. */
export type EngineSource = "flag" | "saved" | "env" | "config" | "probe";

const SOURCE_LABEL: Record<Exclude<EngineSource, "probe">, string> = {
  flag: "--engine",
  saved: "the container's saved engine",
  env: "BURROW_ENGINE",
  config: "the config file's engine",
};

/** An engine setting (`NAME` or `NAME:VARIANT`, as `setup` saves it) split into its two parts. */
export function splitEngineSetting(setting: string): { name: string; variant: string | undefined } {
  const at = setting.indexOf(":");
  if (at < 0) return { name: setting, variant: undefined };
  const variant = setting.slice(at + 1);
  return { name: setting.slice(0, at), variant: variant === "" ? undefined : variant };
}

/**
 * TEST ONLY: BURROW_TEST_DISABLE_ENGINES (a comma list of engine names) makes those engines' probes
 * fail, so the selection tests can play a machine without user namespaces as an unprivileged user
 * (the real switch, a sysctl, is machine-wide). Never documented for users.
 */
function disabledForTests(name: string, env: NodeJS.ProcessEnv): ProbeResult | undefined {
  const list = (env.BURROW_TEST_DISABLE_ENGINES ?? "").split(",").map((s) => s.trim());
  return list.includes(name)
    ? { ok: false, reason: "disabled by BURROW_TEST_DISABLE_ENGINES (a switch for tests)" }
    : undefined;
}

/** Whether `name` is a known engine. */
export function isEngineName(name: string): boolean {
  return Object.hasOwn(registry, name);
}

/** The usage error for an engine name burrow does not know. */
function unknownEngine(
  name: string,
  source: Exclude<EngineSource, "probe">,
  names: readonly string[] = engineNames,
): InvalidArgumentError {
  return new InvalidArgumentError(
    `unknown engine "${name}" (from ${SOURCE_LABEL[source]}): use one of ${names.join(", ")}`,
  );
}

/** Loads engine `name` (its module is imported now, not before). */
export async function loadEngine(name: string, ctx: EngineContext): Promise<Engine> {
  const load = Object.hasOwn(registry, name) ? registry[name] : undefined;
  if (load === undefined) throw unknownEngine(name, "flag");
  const mod = await load();
  return mod.createEngine(ctx);
}

/** What the selection is given; `env` is the value of BURROW_ENGINE. */
export interface EngineRequest {
  flag?: string | undefined;
  saved?: string | undefined;
  env?: string | undefined;
  config?: string | undefined;
  storeRoot: string | undefined;
  /** burrow's own environment, for binary overrides and PATH (default: process.env). */
  processEnv?: NodeJS.ProcessEnv;
  /** Receives one line saying which engine was chosen and why (`--debug`). */
  debug?: ((line: string) => void) | undefined;
}

/** The first named engine of the request and where it was named, or undefined to probe. */
export function requestedEngine(
  req: EngineRequest,
): { name: string; source: Exclude<EngineSource, "probe"> } | undefined {
  const order: [Exclude<EngineSource, "probe">, string | undefined][] = [
    ["flag", req.flag],
    ["saved", req.saved],
    ["env", req.env],
    ["config", req.config],
  ];
  for (const [source, name] of order) {
    if (name !== undefined && name.trim() !== "") return { name: name.trim(), source };
  }
  return undefined;
}

/** A loader of engines, replaceable in tests. */
export type EngineLoader = (name: string, ctx: EngineContext) => Promise<Engine>;

/**
 * The engine a run uses: `--engine`, else the container's saved engine, else BURROW_ENGINE, else the
 * config file's, else the first (in `engineNames` order) whose probe succeeds. A named engine that
 * cannot run here, or no usable engine at all, is an EngineUnavailableError saying why.
 */
export async function selectEngine(
  req: EngineRequest,
  load: EngineLoader = loadEngine,
  names: readonly string[] = engineNames,
): Promise<Engine> {
  const env = req.processEnv ?? process.env;
  const asked = requestedEngine(req);
  if (asked !== undefined) {
    // `NAME:VARIANT` (from `setup`, or typed): the engine is NAME, the variant goes to it through its context.
    const { name, variant } = splitEngineSetting(asked.name);
    if (!names.includes(name)) throw unknownEngine(asked.name, asked.source, names);
    const engine = await load(name, { storeRoot: req.storeRoot, env, variant });
    const probe = disabledForTests(name, env) ?? (await engine.probe());
    if (!probe.ok) {
      throw new EngineUnavailableError(`engine ${asked.name} cannot run here: ${probe.reason}`);
    }
    req.debug?.(`engine ${asked.name} (from ${SOURCE_LABEL[asked.source]})`);
    return engine;
  }
  const ctx: EngineContext = { storeRoot: req.storeRoot, env };
  const reasons: string[] = [];
  for (const name of names) {
    const engine = await load(name, ctx);
    const probe = disabledForTests(name, env) ?? (await engine.probe());
    if (probe.ok) {
      req.debug?.(`engine ${name} (${reasons.length > 0 ? reasons.join("; ") : "the first usable one"})`);
      return engine;
    }
    reasons.push(`${name}: ${probe.reason}`);
  }
  throw new EngineUnavailableError(
    `no engine can run here (${reasons.join("; ")}); 'burrow info' shows what each engine needs`,
  );
}

/** One engine's probe result, for `burrow info`. */
export interface EngineReport {
  name: string;
  probe: ProbeResult;
}

/** Probes every known engine (in parallel) and reports each result in preference order. */
export async function probeAll(
  ctx: EngineContext,
  load: EngineLoader = loadEngine,
  names: readonly string[] = engineNames,
): Promise<EngineReport[]> {
  return Promise.all(
    names.map(async (name) => {
      try {
        const engine = await load(name, ctx);
        return { name, probe: disabledForTests(name, ctx.env) ?? (await engine.probe()) };
      } catch (err) {
        return {
          name,
          probe: { ok: false, reason: `its probe failed: ${(err as Error).message}` } as ProbeResult,
        };
      }
    }),
  );
}

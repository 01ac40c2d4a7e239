// The engine settings `burrow setup` saves on a container: engine names with a variant, and udocker's execmodes.
import { InvalidArgumentError } from "../errors.js";

/**
 * The variants each engine reads from `EngineContext.variant` (`NAME:VARIANT`): `proot:noseccomp` runs
 * PRoot without its seccomp acceleration (PROOT_NO_SECCOMP=1), `runc:crun` runs crun instead of runc.
 */
export const ENGINE_VARIANTS: Readonly<Record<string, readonly string[]>> = {
  userns: [],
  proot: ["noseccomp"],
  runc: ["crun"],
};

/** Shorthands accepted by `setup --engine`. */
const ALIASES: Readonly<Record<string, string>> = { crun: "runc:crun" };

/** udocker's execution modes and the engine setting each one means in burrow (F modes have none). */
const EXECMODES: Readonly<Record<string, string | undefined>> = {
  P1: "proot",
  P2: "proot:noseccomp",
  R1: "runc",
  R2: "runc:crun",
  F1: undefined,
  F2: undefined,
  F3: undefined,
  F4: undefined,
};

/** udocker's names for burrow's settings, for `setup` with no option. */
const EXECMODE_OF: Readonly<Record<string, string>> = {
  proot: "P1",
  "proot:noseccomp": "P2",
  runc: "R1",
  "runc:crun": "R2",
};

/**
 * The engine setting `--engine VALUE` saves: a known engine (one of `engines`, the registry's names),
 * optionally with a variant it reads. A user mistake is an InvalidArgumentError saying what to use.
 */
export function engineSetting(value: string, engines: readonly string[]): string {
  const setting = ALIASES[value.trim()] ?? value.trim();
  const [name = "", variant, ...rest] = setting.split(":");
  const choices = engines.flatMap((e) => [e, ...(ENGINE_VARIANTS[e] ?? []).map((v) => `${e}:${v}`)]);
  if (
    !engines.includes(name) ||
    rest.length > 0 ||
    (variant !== undefined && !(ENGINE_VARIANTS[name] ?? []).includes(variant))
  ) {
    throw new InvalidArgumentError(`unknown engine "${value}": use one of ${choices.join(", ")}`);
  }
  return setting;
}

/** What an execmode means: an engine setting, or (F1-F4, udocker's fakechroot modes) "the fastest here". */
export type ExecmodeMeaning = { kind: "engine"; setting: string } | { kind: "fastest"; mode: string };

/** Reads udocker's `--execmode` value (case-insensitive): P1, P2, R1, R2, F1-F4. */
export function parseExecmode(value: string): ExecmodeMeaning {
  const mode = value.trim().toUpperCase();
  if (!Object.hasOwn(EXECMODES, mode)) {
    throw new InvalidArgumentError(
      `unknown execmode "${value}": use P1 (proot), P2 (proot without seccomp), R1 (runc), R2 (crun) or F1-F4`,
    );
  }
  const setting = EXECMODES[mode];
  return setting === undefined ? { kind: "fastest", mode } : { kind: "engine", setting };
}

/** A saved setting in words, with udocker's execmode where there is one: `proot:noseccomp (execmode P2)`. */
export function describeSetting(setting: string | undefined): string {
  if (setting === undefined || setting === "")
    return "automatic (none saved: burrow picks the first engine that works here)";
  const mode = EXECMODE_OF[setting];
  return mode === undefined ? setting : `${setting} (execmode ${mode})`;
}

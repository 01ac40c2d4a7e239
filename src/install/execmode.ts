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

/**
 * udocker's execution modes (its user manual, `setup`) and what each runs in burrow. P1/P2 are PRoot
 * with and without its seccomp acceleration, R1 runc. R2 and R3 are runc with PRoot inside it (with and
 * without seccomp) so that software installs as emulated root: burrow's runc engine emulates root itself
 * (a seccomp filter makes the chown family succeed), so both run runc. F1-F4 (fakechroot) and S1
 * (Singularity/Apptainer) have no burrow engine: the closest one that works here runs them.
 */
const EXECMODES: Readonly<Record<string, string | undefined>> = {
  P1: "proot",
  P2: "proot:noseccomp",
  R1: "runc",
  R2: "runc",
  R3: "runc",
  F1: undefined,
  F2: undefined,
  F3: undefined,
  F4: undefined,
  S1: undefined,
};

/** The one-line notice for a mode burrow runs with another engine than udocker's, without its engine name. */
const NOTICES: Readonly<Record<string, string>> = {
  R2: "execmode R2 is udocker's runc with PRoot inside it (with seccomp) to install software as emulated root; burrow's runc engine emulates root itself, so runc runs it",
  R3: "execmode R3 is udocker's runc with PRoot inside it (without seccomp) to install software as emulated root; burrow's runc engine emulates root itself, so runc runs it",
};

/** udocker's names for burrow's settings, for `setup` with no option. */
const EXECMODE_OF: Readonly<Record<string, string>> = {
  proot: "P1",
  "proot:noseccomp": "P2",
  runc: "R1",
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

/**
 * What an execmode means: an engine setting (with a notice where udocker's mode runs differently), or
 * the fastest engine that works here (F1-F4, udocker's fakechroot modes; S1, Singularity/Apptainer).
 */
export type ExecmodeMeaning =
  | { kind: "engine"; mode: string; setting: string; notice?: string | undefined }
  | { kind: "fastest"; mode: string };

/** Whether `value` names one of udocker's execmodes (case-insensitive). */
export const isExecmode = (value: string): boolean => Object.hasOwn(EXECMODES, value.trim().toUpperCase());

/** Reads udocker's `--execmode` value (case-insensitive): P1, P2, R1-R3, F1-F4, S1. */
export function parseExecmode(value: string): ExecmodeMeaning {
  const mode = value.trim().toUpperCase();
  if (!Object.hasOwn(EXECMODES, mode)) {
    throw new InvalidArgumentError(
      `unknown execmode "${value}": use P1 or P2 (proot), R1, R2 or R3 (runc), F1-F4 or S1 (the fastest engine here)`,
    );
  }
  const setting = EXECMODES[mode];
  if (setting === undefined) return { kind: "fastest", mode };
  return { kind: "engine", mode, setting, ...(NOTICES[mode] !== undefined ? { notice: NOTICES[mode] } : {}) };
}

/**
 * The notice for a mode that runs on the fastest engine here (`engine`), saying what udocker would run
 * and what runs instead; `singularity` is the Singularity/Apptainer found on PATH, if any.
 */
export function fastestNotice(mode: string, engine: string, singularity?: string): string {
  if (mode === "S1") {
    const found =
      singularity !== undefined
        ? `burrow does not drive ${singularity}`
        : "neither is installed here and burrow has no engine for them";
    return `execmode S1 is udocker's Singularity/Apptainer mode; ${found}, so ${engine} runs it, the fastest engine that works here`;
  }
  return `execmode ${mode} is udocker's fakechroot mode, which burrow does not have; using ${engine}, the fastest engine that works here`;
}

/**
 * A saved setting in words, with udocker's execmode where there is one: `proot:noseccomp (execmode P2)`;
 * `mode` is the execmode `setup` saved it from, where that is not the setting's own (R3 runs runc).
 */
export function describeSetting(setting: string | undefined, mode?: string): string {
  if (setting === undefined || setting === "")
    return "automatic (none saved: burrow picks the first engine that works here)";
  const own = mode ?? EXECMODE_OF[setting];
  return own === undefined ? setting : `${setting} (execmode ${own})`;
}

// The image config a build makes: the base's config carried forward and changed by each metadata
// instruction as Docker's reference says (ENV, LABEL, WORKDIR, USER, CMD, ENTRYPOINT, SHELL, EXPOSE, VOLUME,
// STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER), and the text its history records for each step. Pure.
import path from "node:path";
import type { Command, Instruction } from "../dockerfile/instructions.js";
import { exposedPorts, checkStopSignal } from "../dockerfile/values.js";

/** The run settings of an image config (`config` in the OCI image config), in Docker's key names. */
export interface RunSettings {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Shell?: string[];
  Healthcheck?: Record<string, unknown>;
  OnBuild?: string[] | null;
  [key: string]: unknown;
}

/** The shell of shell-form commands when no SHELL is set. */
export const DEFAULT_SHELL: readonly string[] = ["/bin/sh", "-c"];

/** The argv of a RUN, CMD or ENTRYPOINT command: exec form as written, shell form through `shell`. */
export function commandArgv(command: Command, shell: readonly string[]): string[] {
  return command.form === "exec" ? [...command.args] : [...shell, command.text];
}

/** The stage's WORKDIR after `WORKDIR value` (relative values are relative to the current one). */
export function nextWorkdir(current: string | undefined, value: string): string {
  return path.posix.resolve(current || "/", value);
}

/**
 * The run settings after metadata instruction `i` (variables already substituted); `cmdSetHere` says
 * whether this stage set CMD before (an ENTRYPOINT clears a CMD inherited from the base, as Docker does).
 * Returns undefined for instructions that change no run setting.
 */
export function applyMetadata(
  settings: RunSettings,
  i: Instruction,
  cmdSetHere: boolean,
): RunSettings | undefined {
  const shell = settings.Shell ?? DEFAULT_SHELL;
  switch (i.kind) {
    case "ENV": {
      const env = [...(settings.Env ?? [])];
      for (const { key, value } of i.pairs) {
        const at = env.findIndex((e) => e.slice(0, e.indexOf("=")) === key);
        if (at >= 0) env[at] = `${key}=${value}`;
        else env.push(`${key}=${value}`);
      }
      return { ...settings, Env: env };
    }
    case "LABEL": {
      const labels = { ...(settings.Labels ?? {}) };
      for (const { key, value } of i.pairs) labels[key] = value;
      return { ...settings, Labels: labels };
    }
    case "WORKDIR":
      return { ...settings, WorkingDir: nextWorkdir(settings.WorkingDir, i.value) };
    case "USER":
      return { ...settings, User: i.value };
    case "CMD":
      return { ...settings, Cmd: commandArgv(i.command, shell) };
    case "ENTRYPOINT":
      return {
        ...settings,
        Entrypoint: commandArgv(i.command, shell),
        ...(cmdSetHere ? {} : { Cmd: null }),
      };
    case "SHELL":
      return { ...settings, Shell: [...i.shell] };
    case "EXPOSE": {
      const ports = { ...(settings.ExposedPorts ?? {}) };
      for (const key of exposedPorts(i.ports, i.line)) ports[key] = {};
      return { ...settings, ExposedPorts: ports };
    }
    case "VOLUME": {
      const volumes = { ...(settings.Volumes ?? {}) };
      for (const p of i.paths) if (p !== "") volumes[p] = {};
      return { ...settings, Volumes: volumes };
    }
    case "STOPSIGNAL":
      return { ...settings, StopSignal: checkStopSignal(i.value, i.line) };
    case "HEALTHCHECK": {
      const check: Record<string, unknown> = { Test: i.test };
      if (i.interval !== undefined) check.Interval = i.interval;
      if (i.timeout !== undefined) check.Timeout = i.timeout;
      if (i.startPeriod !== undefined) check.StartPeriod = i.startPeriod;
      if (i.startInterval !== undefined) check.StartInterval = i.startInterval;
      if (i.retries !== undefined) check.Retries = i.retries;
      return { ...settings, Healthcheck: check };
    }
    case "ONBUILD":
      return { ...settings, OnBuild: [...(settings.OnBuild ?? []), i.expression] };
    default:
      return undefined;
  }
}

/** What the history records as a step's "created by": the instruction as written, RUN with its argv. */
export function createdBy(i: Instruction, shell: readonly string[]): string {
  if (i.kind === "RUN") {
    const argv = commandArgv(i.command, shell);
    return `RUN ${i.command.form === "exec" ? JSON.stringify(argv) : argv.join(" ")}`;
  }
  return i.original.replace(/\s+/g, " ").trim();
}

// The parts of an OCI/Docker image config that decide how a container runs, read and checked field by
// field: an image is someone else's JSON, and a field of the wrong type must be one line, not a crash.
import { ImageConfigError } from "../errors.js";
import { jsonKind } from "../json-kind.js";

/** `config` of an image config JSON (Docker's capitalised names, as the OCI image spec keeps them). */
export interface ContainerConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  /** Folders the image declares as volumes (`{"/data": {}}`). */
  Volumes?: Record<string, object | null>;
  /** Ports the image declares (`{"80/tcp": {}}`). */
  ExposedPorts?: Record<string, object | null>;
  Labels?: Record<string, string>;
}

/** The fields a run replaces from its command line, whose image value is then neither read nor checked. */
export interface ConfigOverrides {
  /** `--entrypoint` given (docker then drops the image's CMD as well). */
  entrypoint?: boolean;
  /** A command given after the image name. */
  cmd?: boolean;
  /** `-u`. */
  user?: boolean;
  /** `-w`. */
  workdir?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** One refusal: what is wrong with which field, and what the user can do about it. */
function malformed(field: string, problem: string, remedy: string): ImageConfigError {
  return new ImageConfigError(`the image's config is malformed: ${field} ${problem}; ${remedy}`);
}

const REBUILD = "the image cannot run as it is (fix its config, or ask its publisher for a fixed image)";

/** A string burrow hands to the kernel: no NUL byte (exec and paths end there). */
function plainString(field: string, v: unknown, remedy: string): string {
  if (typeof v !== "string") throw malformed(field, `is ${jsonKind(v)}, not a string`, remedy);
  if (v.includes("\0")) throw malformed(field, "holds a NUL byte", remedy);
  return v;
}

/**
 * Entrypoint or Cmd: a list of strings. A single string is taken as a list of that one string, as
 * docker takes it (its StrSlice type): `"Entrypoint": "/bin/echo hi"` names a program called
 * "/bin/echo hi", exactly as `docker run` runs it. The image spec has lists only; Dockerfile's shell
 * form is turned into `["/bin/sh", "-c", ...]` when the image is built, never at run time.
 */
function commandList(field: string, v: unknown, remedy: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return [plainString(field, v, remedy)];
  if (!Array.isArray(v)) throw malformed(field, `is ${jsonKind(v)}, not a list of strings`, remedy);
  return v.map((item, i) => plainString(`${field}[${i}]`, item, remedy));
}

/** Env: a list of NAME=value strings. */
function envList(v: unknown): string[] | null {
  const remedy = REBUILD;
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v))
    throw malformed("Env", `is ${jsonKind(v)}, not a list of NAME=value strings`, remedy);
  return v.map((item, i) => {
    const s = plainString(`Env[${i}]`, item, remedy);
    if (s.indexOf("=") <= 0) {
      throw malformed(`Env[${i}]`, `is ${jsonKind(s)}, not NAME=value`, remedy);
    }
    return s;
  });
}

/** An optional string field. */
function optionalString(field: string, v: unknown, remedy: string): string | undefined {
  return v === undefined || v === null ? undefined : plainString(field, v, remedy);
}

/** A map whose values are objects (ExposedPorts, Volumes: docker's `map[string]struct{}`). */
function setOfKeys(field: string, v: unknown): Record<string, object | null> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw malformed(field, `is ${jsonKind(v)}, not an object`, REBUILD);
  for (const [k, item] of Object.entries(v)) {
    if (item !== null && !isObject(item)) {
      throw malformed(`${field}[${JSON.stringify(k)}]`, `is ${jsonKind(item)}, not an object`, REBUILD);
    }
  }
  return v as Record<string, object | null>;
}

/** Labels: a map of strings. */
function labels(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw malformed("Labels", `is ${jsonKind(v)}, not an object of strings`, REBUILD);
  const out: Record<string, string> = {};
  for (const [k, item] of Object.entries(v)) {
    if (item === null) continue;
    if (typeof item !== "string") {
      throw malformed(`Labels[${JSON.stringify(k)}]`, `is ${jsonKind(item)}, not a string`, REBUILD);
    }
    out[k] = item;
  }
  return out;
}

/** Fields burrow does not act on, checked for the types the image spec and docker give them. */
function checkUnused(c: Record<string, unknown>): void {
  const h = c.Healthcheck;
  if (h !== undefined && h !== null) {
    if (!isObject(h)) throw malformed("Healthcheck", `is ${jsonKind(h)}, not an object`, REBUILD);
    if (h.Test !== undefined && h.Test !== null) {
      if (!Array.isArray(h.Test) || h.Test.some((t) => typeof t !== "string")) {
        throw malformed("Healthcheck.Test", `is ${jsonKind(h.Test)}, not a list of strings`, REBUILD);
      }
    }
    for (const k of ["Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"]) {
      const n = h[k];
      if (n !== undefined && n !== null && !(typeof n === "number" && Number.isInteger(n) && n >= 0)) {
        throw malformed(`Healthcheck.${k}`, `is ${jsonKind(n)}, not a whole number`, REBUILD);
      }
    }
  }
  for (const k of ["OnBuild", "Shell"]) {
    const list = c[k];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list) || list.some((t) => typeof t !== "string")) {
      throw malformed(k, `is ${jsonKind(list)}, not a list of strings`, REBUILD);
    }
  }
  if (c.ArgsEscaped !== undefined && c.ArgsEscaped !== null && typeof c.ArgsEscaped !== "boolean") {
    throw malformed("ArgsEscaped", `is ${jsonKind(c.ArgsEscaped)}, not true or false`, REBUILD);
  }
}

/**
 * Reads and checks `config` out of an image config blob (absent or null: an image with no settings).
 * Every field burrow uses is typed, and the others are checked for the type the image spec gives them;
 * a field the run replaces (`overrides`) is neither read nor checked. Throws an ImageConfigError (one
 * line: the field, what it holds, what to do) for anything else.
 */
export function containerConfig(configJson: unknown, overrides: ConfigOverrides = {}): ContainerConfig {
  if (!isObject(configJson)) {
    throw new ImageConfigError(
      `the image's config is ${jsonKind(configJson)}, not a JSON object; ${REBUILD}`,
    );
  }
  const c = configJson.config;
  if (c === undefined || c === null) return {};
  if (!isObject(c)) throw malformed("config", `is ${jsonKind(c)}, not an object`, REBUILD);
  const out: ContainerConfig = {};
  if (!overrides.entrypoint) {
    const entrypoint = commandList(
      "Entrypoint",
      c.Entrypoint,
      "give --entrypoint PROGRAM to run something else, or fix the image",
    );
    if (entrypoint !== null) out.Entrypoint = entrypoint;
  }
  if (!overrides.entrypoint && !overrides.cmd) {
    const cmd = commandList("Cmd", c.Cmd, "give a command after the image name, or fix the image");
    if (cmd !== null) out.Cmd = cmd;
  }
  const env = envList(c.Env);
  if (env !== null) out.Env = env;
  if (!overrides.workdir) {
    const w = optionalString("WorkingDir", c.WorkingDir, "give -w FOLDER to choose one, or fix the image");
    if (w !== undefined) out.WorkingDir = w;
  }
  if (!overrides.user) {
    const u = optionalString("User", c.User, 'give -u USER (a name or "uid:gid"), or fix the image');
    if (u !== undefined) out.User = u;
  }
  const stop = optionalString("StopSignal", c.StopSignal, REBUILD);
  if (stop !== undefined) out.StopSignal = stop;
  const volumes = setOfKeys("Volumes", c.Volumes);
  if (volumes !== undefined) out.Volumes = volumes;
  const ports = setOfKeys("ExposedPorts", c.ExposedPorts);
  if (ports !== undefined) out.ExposedPorts = ports;
  const l = labels(c.Labels);
  if (l !== undefined) out.Labels = l;
  checkUnused(c);
  return out;
}

/** Parses a config blob's bytes as JSON; an ImageConfigError when they are not JSON. */
export function parseConfigBlob(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch (err) {
    throw new ImageConfigError(`the image's config is not valid JSON; ${REBUILD}`, { cause: err });
  }
}

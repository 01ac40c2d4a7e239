// `--cpuset-cpus`, `--ulimit`, `--memory`, `--cpus`, `--pids-limit`: parsed into the RunSpec's LimitsSpec,
// and the launcher words (taskset, prlimit, cgroup join) for engines that start a program without the helper.
import fs from "node:fs";
import type { CgroupLimits, LimitsSpec, RlimitSpec } from "../engine-interface.js";
import { InvalidArgumentError } from "../errors.js";

/** The `--ulimit` names (setrlimit's resources, as docker and prlimit(1) spell them). */
export const RLIMIT_NAMES: readonly string[] = [
  "as",
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
];

/** A CPU list such as `0`, `0-2,5` (checked, returned as given without spaces). */
export function parseCpuset(value: string): string {
  const v = value.replace(/\s+/g, "");
  const ok =
    /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v) &&
    v.split(",").every((r) => {
      const [lo, hi = lo] = r.split("-").map(Number);
      return lo! <= hi! && hi! < 1024;
    });
  if (!ok)
    throw new InvalidArgumentError(`invalid --cpuset-cpus "${value}": give a CPU list such as 0 or 0-2,5`);
  return v;
}

/** One limit value: a number of the resource's unit, or `unlimited` (also -1). */
function limitValue(text: string, arg: string): string {
  if (text === "unlimited" || text === "-1") return "unlimited";
  if (!/^\d{1,19}$/.test(text))
    throw new InvalidArgumentError(`invalid --ulimit ${arg}: "${text}" is not a number or unlimited`);
  return String(BigInt(text));
}

/** `--ulimit NAME=SOFT[:HARD]` (HARD defaults to SOFT). */
export function parseUlimit(arg: string): RlimitSpec {
  const eq = arg.indexOf("=");
  const name =
    eq > 0
      ? arg
          .slice(0, eq)
          .toLowerCase()
          .replace(/^rlimit_/, "")
      : "";
  if (!RLIMIT_NAMES.includes(name)) {
    throw new InvalidArgumentError(
      `invalid --ulimit ${arg}: use NAME=SOFT[:HARD] with NAME one of ${RLIMIT_NAMES.join(", ")}`,
    );
  }
  const [softText = "", hardText = softText, ...rest] = arg.slice(eq + 1).split(":");
  if (rest.length > 0) throw new InvalidArgumentError(`invalid --ulimit ${arg}: use NAME=SOFT[:HARD]`);
  const soft = limitValue(softText, arg);
  const hard = limitValue(hardText, arg);
  if (hard !== "unlimited" && (soft === "unlimited" || BigInt(soft) > BigInt(hard)))
    throw new InvalidArgumentError(`invalid --ulimit ${arg}: the soft limit is above the hard one`);
  return { name, soft, hard };
}

/** `--memory SIZE`: bytes from `100m`, `1g`, `512k`, `1073741824` (b, k, m, g, t; binary units, as docker). */
export function parseMemory(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(value.trim());
  const unit = { "": 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m?.[2] ?? "").toLowerCase()];
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 4 * 2 ** 20))
    throw new InvalidArgumentError(
      `invalid --memory "${value}": give a size of at least 4m, such as 512m or 2g`,
    );
  return bytes;
}

/** `--cpus N`: a positive number of CPUs (fractions allowed). */
export function parseCpus(value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= 0.01))
    throw new InvalidArgumentError(`invalid --cpus "${value}": give a number of CPUs such as 1 or 1.5`);
  return n;
}

/** `--pids-limit N`: a positive process count (-1 or 0: unlimited, as docker). */
export function parsePidsLimit(value: string): number | undefined {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (n === -1 || n === 0) return undefined;
  if (!(n > 0)) throw new InvalidArgumentError(`invalid --pids-limit "${value}": give a number of processes`);
  return n;
}

/** The options as `burrow run` has them. */
export interface LimitOptions {
  cpusetCpus?: string | undefined;
  ulimits?: readonly string[] | undefined;
  memory?: string | undefined;
  cpus?: string | undefined;
  pidsLimit?: string | undefined;
}

/** The limits asked for, parsed (the cgroup ones without their cgroup: see src/run/cgroup.ts); undefined for none. */
export function parseLimits(o: LimitOptions): LimitsSpec | undefined {
  const cgroup: CgroupLimits = {};
  if (o.memory !== undefined) cgroup.memory = parseMemory(o.memory);
  if (o.cpus !== undefined) cgroup.cpus = parseCpus(o.cpus);
  if (o.pidsLimit !== undefined) {
    const pids = parsePidsLimit(o.pidsLimit);
    if (pids !== undefined) cgroup.pids = pids;
  }
  const rlimits = (o.ulimits ?? []).map(parseUlimit);
  const cpuset = o.cpusetCpus !== undefined ? parseCpuset(o.cpusetCpus) : undefined;
  const hasCgroup = Object.keys(cgroup).length > 0;
  if (cpuset === undefined && rlimits.length === 0 && !hasCgroup) return undefined;
  return { cpuset, rlimits, ...(hasCgroup ? { cgroup } : {}) };
}

/** The cgroup v2 files and values that apply `limits` (memory.max, cpu.max, pids.max). */
export function cgroupFiles(limits: CgroupLimits): Record<string, string> {
  const files: Record<string, string> = {};
  if (limits.memory !== undefined) files["memory.max"] = String(limits.memory);
  if (limits.cpus !== undefined) files["cpu.max"] = `${Math.round(limits.cpus * 100_000)} 100000`;
  if (limits.pids !== undefined) files["pids.max"] = String(limits.pids);
  return files;
}

/** Whether `name` is an executable in `PATH`. */
function inPath(
  name: string,
  pathVar: string | undefined,
  isExec: (f: string) => boolean,
): string | undefined {
  for (const dir of (pathVar ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    if (dir !== "" && isExec(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/** /proc/self/limits's row label of each `--ulimit` name. */
const PROC_LIMIT_ROWS: Record<string, string> = {
  as: "Max address space",
  core: "Max core file size",
  cpu: "Max cpu time",
  data: "Max data size",
  fsize: "Max file size",
  locks: "Max file locks",
  memlock: "Max locked memory",
  msgqueue: "Max msgqueue size",
  nice: "Max nice priority",
  nofile: "Max open files",
  nproc: "Max processes",
  rss: "Max resident set",
  rtprio: "Max realtime priority",
  rttime: "Max realtime timeout",
  sigpending: "Max pending signals",
  stack: "Max stack size",
};

/** The CPUs of a checked list such as `0-2,5`. */
function cpusOf(list: string): number[] {
  const cpus: number[] = [];
  for (const r of list.split(",")) {
    const [lo, hi = lo] = r.split("-").map(Number);
    for (let c = lo!; c <= hi!; c++) cpus.push(c);
  }
  return cpus;
}

/**
 * The refusals taskset and prlimit would otherwise give as the program's status: a `--cpuset-cpus` with
 * none of the CPUs this process may use (/proc/self/status), a `--ulimit` hard limit above this process's
 * own (/proc/self/limits), which only a privileged process may raise. Unreadable files check nothing.
 */
function checkHostLimits(
  limits: LimitsSpec,
  read: (file: string) => string | undefined,
  privileged: boolean,
): void {
  const status = limits.cpuset !== undefined ? read("/proc/self/status") : undefined;
  const allowed = status !== undefined ? /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] : undefined;
  if (limits.cpuset !== undefined && allowed !== undefined) {
    const usable = new Set(cpusOf(allowed));
    if (!cpusOf(limits.cpuset).some((c) => usable.has(c)))
      throw new InvalidArgumentError(
        `--cpuset-cpus ${limits.cpuset}: none of these CPUs may be used here (this machine allows ${allowed})`,
      );
  }
  const table = limits.rlimits.length > 0 && !privileged ? read("/proc/self/limits") : undefined;
  for (const r of table !== undefined ? limits.rlimits : []) {
    const row = table!.split("\n").find((l) => l.startsWith(`${PROC_LIMIT_ROWS[r.name]} `));
    const hard = row?.slice(PROC_LIMIT_ROWS[r.name]!.length).trim().split(/\s+/)[1];
    if (hard === undefined || hard === "unlimited" || !/^\d+$/.test(hard)) continue;
    if (r.hard === "unlimited" || BigInt(r.hard) > BigInt(hard))
      throw new InvalidArgumentError(
        `--ulimit ${r.name}=${r.soft}:${r.hard}: the hard limit can only be lowered without privilege (it is ${hard} here)`,
      );
  }
}

/** A /proc file's text, or undefined. */
function readProcFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * The words put in front of an engine's command (runc, proot) so that it and the container start with
 * the limits: `sh -c` that joins the cgroup `cgroupDir`, `taskset -c LIST`, and (with `rlimits`)
 * `prlimit --NAME=SOFT:HARD`. Throws the one-line refusal when taskset or prlimit is missing, or when
 * they would fail (checkHostLimits).
 */
export function launchPrefix(
  engine: string,
  limits: LimitsSpec | undefined,
  opts: {
    rlimits: boolean;
    cgroupDir?: string | undefined;
    pathVar: string | undefined;
    isExec: (f: string) => boolean;
    /** Reads /proc/self/status and /proc/self/limits (tests feed them). */
    readProc?: (file: string) => string | undefined;
    /** Whether burrow runs as root, who may raise hard limits. */
    privileged?: boolean;
  },
): string[] {
  if (limits !== undefined)
    checkHostLimits(limits, opts.readProc ?? readProcFile, opts.privileged ?? process.geteuid?.() === 0);
  const words: string[] = [];
  if (opts.cgroupDir !== undefined)
    words.push("/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', opts.cgroupDir);
  if (limits?.cpuset !== undefined) {
    const taskset = inPath("taskset", opts.pathVar, opts.isExec);
    if (taskset === undefined) {
      throw new InvalidArgumentError(
        `the ${engine} engine sets --cpuset-cpus with taskset, which is not installed (util-linux): install it or use --engine userns`,
      );
    }
    words.push(taskset, "-c", limits.cpuset);
  }
  if (opts.rlimits && limits !== undefined && limits.rlimits.length > 0) {
    const prlimit = inPath("prlimit", opts.pathVar, opts.isExec);
    if (prlimit === undefined) {
      throw new InvalidArgumentError(
        `the ${engine} engine sets --ulimit with prlimit, which is not installed (util-linux): install it or use --engine userns`,
      );
    }
    words.push(prlimit, ...limits.rlimits.map((r) => `--${r.name}=${r.soft}:${r.hard}`), "--");
  }
  return words;
}

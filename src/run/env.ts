// The program's environment: the image's Env, then -e and --env-file, with docker's defaults.
import fs from "node:fs";
import { InvalidArgumentError } from "../errors.js";
import { errnoReason } from "../system-error.js";

/** The PATH docker gives a container whose image sets none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Parses one `-e` value: `K=V`, or `K` alone taken from the host (dropped when unset there). */
export function parseEnvArg(arg: string, host: NodeJS.ProcessEnv): [string, string] | undefined {
  const eq = arg.indexOf("=");
  const key = eq < 0 ? arg : arg.slice(0, eq);
  if (key.length === 0 || /\s/.test(key)) {
    throw new InvalidArgumentError(`invalid environment variable "${arg}": use NAME=VALUE or NAME`);
  }
  if (eq >= 0) return [key, arg.slice(eq + 1)];
  const v = host[key];
  return v === undefined ? undefined : [key, v];
}

/** Reads an env file: `K=V` or `K` lines; blank lines and `#` comments are skipped. */
export function readEnvFile(file: string, host: NodeJS.ProcessEnv): [string, string][] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(`cannot read --env-file ${file}: ${errnoReason(err)}: check the path`, {
      cause: err,
    });
  }
  const out: [string, string][] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    try {
      const kv = parseEnvArg(line, host);
      if (kv) out.push(kv);
    } catch {
      throw new InvalidArgumentError(`--env-file ${file} line ${i + 1}: expected NAME=VALUE, got "${raw}"`);
    }
  }
  return out;
}

/** Merges layers of variables in order (later wins), keeping first-seen order of names. */
export function mergeEnv(...layers: (string[] | [string, string][])[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const layer of layers) {
    for (const item of layer) {
      if (typeof item === "string") {
        const eq = item.indexOf("=");
        if (eq <= 0) continue;
        env.set(item.slice(0, eq), item.slice(eq + 1));
      } else {
        env.set(item[0], item[1]);
      }
    }
  }
  return env;
}

/** `K=V` strings from a map. */
export function envList(env: Map<string, string>): string[] {
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/**
 * Prefixes of the scheduler and MPI variables that reach the program from the host (Slurm, the PMI
 * and PMIx client variables, Open MPI/OPAL/PRRTE, UCX, MPICH's Hydra and Intel MPI): the hybrid
 * model, where the host's launcher starts one `burrow run` per rank and the MPI library inside the
 * image wires up with the launcher.
 */
export const JOB_ENV_PREFIXES = [
  "SLURM_",
  "SLURMD_",
  "PMI_",
  "PMIX_",
  "OMPI_",
  "OPAL_",
  "PRTE_",
  "UCX_",
  "HYDRA_",
  "I_MPI_",
] as const;

/** Whether `name` is a scheduler or MPI variable passed through (one of JOB_ENV_PREFIXES). */
export function isJobVar(name: string): boolean {
  for (const p of JOB_ENV_PREFIXES) if (name.startsWith(p)) return true;
  return false;
}

/** The host's scheduler and MPI variables, in the host's order (empty outside a job). */
export function jobEnv(host: NodeJS.ProcessEnv): [string, string][] {
  const out: [string, string][] = [];
  for (const k of Object.keys(host)) {
    if (!isJobVar(k)) continue;
    const v = host[k];
    if (v !== undefined) out.push([k, v]);
  }
  return out;
}

/**
 * Whether `name` names a folder the PMIx server or the MPI runtime meets its clients in: the PMIx
 * server's and system's rendezvous folders, its shared-memory data store, Open MPI's session folders
 * and temporary base (`OMPI_MCA_*tmpdir*`, `*session_dir*`), and the like for PRRTE.
 */
export function isRendezvousVar(name: string): boolean {
  if (name === "PMIX_SERVER_TMPDIR" || name === "PMIX_SYSTEM_TMPDIR") return true;
  if (name.startsWith("PMIX_DSTORE_") && name.endsWith("_BASE_PATH")) return true;
  if (name.startsWith("OMPI_MCA_") || name.startsWith("PRTE_MCA_") || name.startsWith("PMIX_MCA_")) {
    const n = name.toLowerCase();
    return n.includes("tmpdir") || n.includes("session_dir");
  }
  return false;
}

/**
 * Folders that are never bound whole even when a variable names them: the root and the system's
 * folders, and the shared temporary folders (the launcher's own folder inside them is bound instead,
 * so that the container keeps its own /tmp).
 */
const NEVER_BIND = new Set([
  "/",
  "/tmp",
  "/var/tmp",
  "/dev",
  "/dev/shm",
  "/proc",
  "/sys",
  "/usr",
  "/etc",
  "/bin",
  "/sbin",
  "/lib",
  "/lib64",
  "/var",
  "/run",
  "/home",
  "/root",
]);

/**
 * The host folders to bind at the same path so that the program meets the PMIx server and its MPI
 * peers: the absolute folders named by rendezvous variables (isRendezvousVar) that `isDir` says
 * exist, outermost only (a folder inside another one bound is covered by it), sorted.
 */
export function rendezvousDirs(host: NodeJS.ProcessEnv, isDir: (p: string) => boolean): string[] {
  const found = new Set<string>();
  for (const k of Object.keys(host)) {
    if (!isJobVar(k) || !isRendezvousVar(k)) continue;
    const v = host[k];
    if (!v || !v.startsWith("/")) continue;
    const dir = normalizeDir(v);
    if (!NEVER_BIND.has(dir) && isDir(dir)) found.add(dir);
  }
  const sorted = [...found].sort();
  return sorted.filter((d) => !sorted.some((o) => o !== d && d.startsWith(`${o}/`)));
}

/** `p` without `.` parts and repeated or trailing slashes, `..` resolved lexically. */
function normalizeDir(p: string): string {
  const parts: string[] = [];
  for (const s of p.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") parts.pop();
    else parts.push(s);
  }
  return `/${parts.join("/")}`;
}

/**
 * Variables a rank gets unless the image, the host or `-e` set them: in an MPI job (PMIx variables
 * or Open MPI's own), Open MPI's shared-memory transport is told not to use CMA single-copy
 * (process_vm_readv between ranks), which cannot work between ranks in separate user namespaces and
 * would print a warning for each job; messages still go through shared memory.
 */
export function jobDefaults(host: NodeJS.ProcessEnv, joined = false): [string, string][] {
  // Ranks that share one container (run --join) share its user namespace: CMA works between them.
  if (joined) return [];
  const mpi =
    host.PMIX_RANK !== undefined ||
    host.PMIX_NAMESPACE !== undefined ||
    host.OMPI_COMM_WORLD_SIZE !== undefined;
  return mpi ? [["OMPI_MCA_btl_vader_single_copy_mechanism", "none"]] : [];
}

/** Set (to 1) in `burrow build`'s user namespace of subordinate ids (src/builder/namespace.ts). */
export const BUILD_NAMESPACE_ENV = "BURROW_BUILD_NAMESPACE";

/** The user's own id, given to the build's namespace, where the build runs as root (src/builder/namespace.ts). */
export const BUILD_UID_ENV = "BURROW_BUILD_UID";

/**
 * The user's id on the host: the process's own, or in a build's namespace (where the process is root) the
 * id the build was started with. Node-local folders are named after it, so that a build and a run share them.
 */
export function hostUid(env: NodeJS.ProcessEnv): number | undefined {
  const uid = process.getuid?.();
  if (!inBuildNamespace(env)) return uid;
  const given = env[BUILD_UID_ENV] ?? "";
  return /^[0-9]{1,10}$/.test(given) ? Number(given) : uid;
}

/** Whether this process is the build's namespace root (a re-run of `burrow build` inside it). */
export function inBuildNamespace(env: NodeJS.ProcessEnv): boolean {
  return env[BUILD_NAMESPACE_ENV] === "1" && process.getuid?.() === 0;
}

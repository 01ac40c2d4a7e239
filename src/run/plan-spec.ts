// Step 3 of a run (src/run/run-request.ts): the engine-neutral RunSpec, decided from plain data (what
// src/run/plan-inputs.ts read) with no file system: the command, user, environment, mounts, limits, the
// root's layout and the /etc files the run gets. src/run/materialise-root.ts then makes what it names.
import type { RootfsFacts } from "../store/squashfs.js";
import path from "node:path";
import type { MountSpec, RootSpec, RunSpec } from "../engine-interface.js";
import { InvalidArgumentError } from "../errors.js";
import type { ContainerConfig } from "./image-config.js";
import { checkExecSize } from "./exec-limits.js";
import type { ExecLimits } from "./exec-limits.js";
import { resolveArgv } from "./command.js";
import {
  BUILD_NAMESPACE_ENV,
  DEFAULT_PATH,
  envList,
  jobDefaults,
  jobEnv,
  mergeEnv,
  parseEnvArg,
} from "./env.js";
import { parseGroup, parsePasswd, resolveUser } from "./user.js";
import { parseMount, parseTmpfs, parseVolume } from "./volumes.js";
import { appendLines, extraAccounts } from "./passwd.js";
import type { HostUser } from "./passwd.js";
import { applyDeviceEdits } from "./cdi.js";
import type { DeviceEdits } from "./cdi.js";
import { parseNetwork, SLIRP_DNS } from "./network.js";
import { parseLimits } from "./limits.js";
import type { RunOptions } from "./options.js";
import { cleanGuestPath } from "../fs/in-root.js";

/** How the run's root is laid out (chosen by src/run/choose-layer.ts). */
/**
 * An image kept as one SquashFS file: the file, the SquashFUSE binary that mounts it, what its root holds, and
 * the node-local private folder where the runs of this node meet to share one mount of it.
 */
export interface SquashfsLower {
  file: string;
  squashfuse: string;
  facts: RootfsFacts;
  share?: string | undefined;
}

export type RootLayout =
  /** A folder used as it is (`--location`, a container's copy): the /etc files are bound over its own. */
  | { kind: "direct"; path: string }
  /**
   * The image's root under an overlay: the upper is the container's own layer, else a fresh one in the
   * run's scratch folder; `fuse`: fuse-overlayfs mounts it instead of the kernel.
   */
  | {
      kind: "overlay";
      lower: string;
      layer?: { upper: string; work: string } | undefined;
      fuse?: string | undefined;
      /** The image is one SquashFS file, mounted at `lower` inside the container's namespaces (its facts read instead). */
      squashfs?: SquashfsLower | undefined;
    }
  /** A private copy of the image's root in the scratch folder, discarded at exit. */
  | { kind: "copy"; from: string };

/** What the root holds that the plan reads, as the container will see it. */
export interface RootFacts {
  /** /etc/passwd and /etc/group ("" where missing or unreadable). */
  passwd: string;
  group: string;
  /** Whether /etc, and /etc/apt/apt.conf.d, are real folders (no link on the way). */
  hasEtc: boolean;
  hasAptConfDir: boolean;
}

/** What the host gives a run. */
export interface HostFacts {
  env: NodeJS.ProcessEnv;
  cwd: string;
  user: HostUser;
  hostname: string;
  /** The host's /etc/resolv.conf and /etc/hosts ("" where unreadable). */
  resolvConf: string;
  hosts: string;
  execLimits: ExecLimits;
}

/** Everything the plan decides from: plain data, read beforehand (src/run/plan-inputs.ts). */
export interface PlanInputs {
  layout: RootLayout;
  /** The run's scratch folder (a path only: the plan makes nothing). */
  scratch: string;
  config: ContainerConfig;
  options: RunOptions;
  host: HostFacts;
  root: RootFacts;
  /** The variables of the `--env-file` files, in order. */
  envFileVars: [string, string][];
  /** Which of the `-v` sources exist on the host. */
  existingSources: ReadonlySet<string>;
  /** A job's rendezvous folders and /dev/shm (src/run/plan-inputs.ts jobMounts), in a job only. */
  jobMounts: MountSpec[];
  /** The delegated cgroup folder for `--memory`, `--cpus`, `--pids-limit`, when asked. */
  cgroupParent?: string | undefined;
  /** What `--gpu` and `--device` add (src/run/cdi.ts). */
  devices?: DeviceEdits | undefined;
}

/** Where the generated /etc files go. */
export type EtcPlan =
  /** Into the run's own fresh layer (`into`), which holds nothing else to replace. */
  | { kind: "fresh"; into: string }
  /** Into a root the container or the image shaped (`into`), bound instead where a link is in the way. */
  | { kind: "write"; into: string }
  /** Bound over the root's own. */
  | { kind: "bind" };

/** The plan: the RunSpec (its working directory as asked, the /etc binds not yet in), and the /etc files. */
export interface RunPlan {
  spec: RunSpec;
  /** The generated files by path in the root (`etc/passwd`), with their text. */
  files: Record<string, string>;
  etc: EtcPlan;
}

/**
 * In a PMIx job (the launcher set PMIX_RANK or PMIX_NAMESPACE) and without `-u`: the host user's
 * `uid:gid`, since the PMIx server (mpirun, Slurm's mpi/pmix) accepts only clients that say they are
 * the job's user (the ids the program reads with getuid/getgid, which an emulated root would not
 * match). As Apptainer, a rank runs as the user who started it; `-u` still decides when given.
 */
export function pmixUser(hostEnv: NodeJS.ProcessEnv, hostUser: HostUser): string | undefined {
  return inPmixJob(hostEnv) ? `${hostUser.uid}:${hostUser.gid}` : undefined;
}

/** Whether a PMIx launcher started this process (PMIX_RANK or PMIX_NAMESPACE set). */
export function inPmixJob(hostEnv: NodeJS.ProcessEnv): boolean {
  return hostEnv.PMIX_RANK !== undefined || hostEnv.PMIX_NAMESPACE !== undefined;
}

/** The RunSpec and /etc files for `inputs`. */
export function planRunSpec(inputs: PlanInputs): RunPlan {
  const { config: cfg, options: opts } = inputs;
  const argv = resolveArgv(cfg, { entrypoint: opts.entrypoint, args: opts.args });
  const network = parseNetwork(opts.network, opts.publish);
  const limits = parseLimits(opts);
  if (limits?.cgroup !== undefined) limits.cgroup.parent = inputs.cgroupParent;
  const user = runUser(inputs);
  const { env, fromFlags, inJob } = environment(inputs, user.home);
  // A value execve would refuse (E2BIG) is one line here, before any engine or file is touched.
  checkExecSize(argv, envList(env), inputs.host.execLimits);
  const cwdAsked = opts.workdir ?? (cfg.WorkingDir && cfg.WorkingDir.length > 0 ? cfg.WorkingDir : "/");
  if (!path.posix.isAbsolute(cwdAsked))
    throw new InvalidArgumentError(`invalid working directory "${cwdAsked}": it must be absolute`);
  const mounts = runMounts(inputs, env, fromFlags, inJob);
  const { root, etc } = rootPlan(inputs);
  return {
    spec: {
      root,
      argv,
      env: envList(env),
      // Inside the root: `..` stops at its top; links are resolved inside it where the folder is made.
      cwd: cleanGuestPath(cwdAsked),
      uid: user.uid,
      gid: user.gid,
      mounts,
      sysdirs: !opts.nosysdirs,
      hostname: opts.hostname,
      tty: opts.tty,
      fakeRoot: user.uid === 0,
      ...(inputs.host.env[BUILD_NAMESPACE_ENV] === "1" ? { realIds: true } : {}),
      ...(network.mode !== "host" || network.publish.length > 0 ? { network } : {}),
      ...(limits !== undefined ? { limits } : {}),
      pidNamespace: !opts.nosysdirs,
      // A job's ranks each in a container of their own: pids unique on the node, as on the host.
      ...(inJob && !opts.join && !opts.nosysdirs ? { hostPid: true } : {}),
    },
    files: etcFiles(inputs, user, network.mode === "slirp"),
    etc,
  };
}

/** The user the program runs as, its home, and the passwd/group lines it needs added (when it has no entry). */
function runUser({ options: opts, host, config, root }: PlanInputs) {
  // Accounts come from the image (or a named container's own layer).
  const passwd = parsePasswd(root.passwd);
  const groups = parseGroup(root.group);
  const user = resolveUser(opts.user ?? pmixUser(host.env, host.user) ?? config.User, passwd, groups);
  const home = opts.bindhome ? host.user.home : (user.entry?.home ?? (user.uid === 0 ? "/root" : "/"));
  const run = { uid: user.uid, gid: user.gid, home };
  return { ...run, accounts: extraAccounts(passwd, groups, run, host.user, opts.hostauth) };
}

/**
 * The program's environment: the image's Env, docker's defaults where missing, the job's variables, then
 * `--env-file` and `-e` in order (`fromFlags`), which win. `inJob`: a scheduler or MPI launcher started us.
 */
function environment({ options: opts, host, config, envFileVars }: PlanInputs, home: string) {
  const fromFlags: [string, string][] = [...envFileVars];
  for (const e of opts.env) {
    const kv = parseEnvArg(e, host.env);
    if (kv) fromFlags.push(kv);
  }
  const env = mergeEnv(config.Env ?? []);
  if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH);
  if (!env.has("HOSTNAME")) env.set("HOSTNAME", opts.hostname ?? host.hostname);
  if (!env.has("HOME") || opts.bindhome) env.set("HOME", home);
  if (opts.tty && !env.has("TERM"))
    env.set("TERM", host.env.TERM && host.env.TERM !== "dumb" ? host.env.TERM : "xterm");
  // The scheduler's and MPI launcher's variables (SLURM_*, PMIX_*, OMPI_*, ...), then -e, which wins.
  const job = jobEnv(host.env);
  for (const [k, v] of job) env.set(k, v);
  for (const [k, v] of jobDefaults(host.env, opts.join)) if (!env.has(k)) env.set(k, v);
  for (const [k, v] of fromFlags) env.set(k, v);
  return { env, fromFlags, inJob: job.length > 0 };
}

/**
 * The mounts: devices' (their variables go into `env`, under the flags'), `-v`, `--mount` and `--tmpfs`, a job's
 * folders, the home.
 */
function runMounts(
  inputs: PlanInputs,
  env: Map<string, string>,
  fromFlags: [string, string][],
  inJob: boolean,
): MountSpec[] {
  const { options: opts, host } = inputs;
  const mounts: MountSpec[] = [];
  if (inputs.devices) applyDeviceEdits(inputs.devices, env, mounts, new Set(fromFlags.map(([k]) => k)));
  // Volumes: host paths must exist (a typo should not silently create an empty folder).
  const flagged: [MountSpec, string][] = [
    ...opts.volumes.map((v): [MountSpec, string] => [parseVolume(v, host.cwd), `-v ${v}`]),
    ...opts.mounts.map((m): [MountSpec, string] => [parseMount(m, host.cwd), `--mount ${m}`]),
    ...opts.tmpfs.map((t): [MountSpec, string] => [parseTmpfs(t), `--tmpfs ${t}`]),
  ];
  for (const [m, flag] of flagged) {
    if (m.kind === "bind" && !inputs.existingSources.has(m.source)) {
      throw new InvalidArgumentError(
        `volume source ${m.source} does not exist: create it or fix the path in ${flag}`,
      );
    }
    mounts.push(m);
  }
  if (inJob) mounts.push(...inputs.jobMounts);
  if (opts.bindhome) {
    const home = host.user.home;
    mounts.push({ kind: "bind", source: home, destination: home, readonly: false, create: true });
  }
  return mounts;
}

/** The /etc files the run gets: accounts only where the user lacks an entry (a container's own changes stay). */
function etcFiles(
  { root, host }: PlanInputs,
  user: ReturnType<typeof runUser>,
  slirp: boolean,
): Record<string, string> {
  const { accounts } = user;
  const files: Record<string, string> = {
    ...(accounts.passwd.length > 0 ? { "etc/passwd": appendLines(root.passwd, accounts.passwd) } : {}),
    ...(accounts.group.length > 0 ? { "etc/group": appendLines(root.group, accounts.group) } : {}),
    // slirp4netns answers DNS at 10.0.2.3 (the host's resolver may be on its loopback, out of reach).
    "etc/resolv.conf": slirp ? `nameserver ${SLIRP_DNS}\n` : host.resolvConf,
    "etc/hosts": host.hosts,
  };
  // apt drops to its sandbox user `_apt` and checks that the switch worked, which emulated root
  // cannot do: as emulated root, tell apt to stay root (Apptainer's fakeroot does the same). In burrow
  // build's namespace of subordinate ids the switch is real, and apt's own files get `_apt` as on Docker.
  if (user.uid === 0 && root.hasAptConfDir && host.env[BUILD_NAMESPACE_ENV] !== "1") {
    files["etc/apt/apt.conf.d/00burrow-sandbox"] = 'APT::Sandbox::User "root";\n';
  }
  return files;
}

/** The root the engine mounts, and where the /etc files go: into the run's writable root when it has one. */
function rootPlan({ layout, scratch, root: facts, options }: PlanInputs): { root: RootSpec; etc: EtcPlan } {
  const readonly = options.readOnly;
  if (layout.kind === "overlay") {
    const upper = layout.layer?.upper ?? path.join(scratch, "upper");
    const work = layout.layer?.work ?? path.join(scratch, "work");
    const root: RootSpec = {
      kind: "overlay",
      lower: layout.lower,
      upper,
      work,
      mountpoint: path.join(scratch, "root"),
    };
    if (readonly) root.readonly = true;
    if (layout.fuse !== undefined) root.fuse = layout.fuse;
    if (layout.squashfs !== undefined)
      root.squashfs = {
        file: layout.squashfs.file,
        squashfuse: layout.squashfs.squashfuse,
        share: layout.squashfs.share,
      };
    const etc: EtcPlan = !facts.hasEtc
      ? { kind: "bind" }
      : layout.layer
        ? { kind: "write", into: upper }
        : { kind: "fresh", into: upper };
    return { root, etc };
  }
  if (layout.kind === "copy") {
    const copy = path.join(scratch, "rootfs");
    return {
      root: { kind: "direct", path: copy, readonly },
      etc: facts.hasEtc ? { kind: "write", into: copy } : { kind: "bind" },
    };
  }
  // Direct roots are not ours to edit: the generated files are bound over the image's.
  return { root: { kind: "direct", path: layout.path, readonly }, etc: { kind: "bind" } };
}

// Turns an image's config and the run options into one engine-neutral RunSpec.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import type { MountSpec, RootSpec, RunSpec } from "../engine.js";
import { InvalidArgumentError, StoreError } from "../errors.js";
import type { ContainerConfig } from "./image-config.js";
import { checkExecSize } from "./exec-limits.js";
import { resolveArgv } from "./command.js";
import {
  DEFAULT_PATH,
  envList,
  jobDefaults,
  jobEnv,
  mergeEnv,
  parseEnvArg,
  readEnvFile,
  rendezvousDirs,
} from "./env.js";
import { parseGroup, parsePasswd, resolveUser } from "./user.js";
import type { GroupEntry, PasswdEntry } from "./user.js";
import { parseVolume } from "./volumes.js";
import { appendLines, extraAccounts } from "./passwd.js";
import { makeScratchDir, noteMade } from "./scratch.js";
import { applyDeviceEdits } from "./cdi.js";
import type { DeviceEdits } from "./cdi.js";
import type { HostUser } from "./passwd.js";
import { parseNetwork, SLIRP_DNS } from "./network.js";
import { parseLimits } from "./limits.js";
import { requireDelegation } from "./cgroup.js";
import { InRoot, OutsideRootError, cleanGuestPath } from "../fs/in-root.js";

/** The docker-style options of `burrow run` that shape the container. */
export interface RunOptions {
  args: string[];
  /** `--network host|none|slirp[:allow_host_loopback=true]` and `-p` (src/run/network.ts). */
  network?: string | undefined;
  publish?: string[] | undefined;
  /** `--cpuset-cpus`, `--ulimit`, `--memory`, `--cpus`, `--pids-limit` (src/run/limits.ts). */
  cpusetCpus?: string | undefined;
  ulimits?: string[] | undefined;
  memory?: string | undefined;
  cpus?: string | undefined;
  pidsLimit?: string | undefined;
  entrypoint?: string | undefined;
  env: string[];
  envFiles: string[];
  workdir?: string | undefined;
  user?: string | undefined;
  volumes: string[];
  hostname?: string | undefined;
  hostauth: boolean;
  nosysdirs: boolean;
  bindhome: boolean;
  tty: boolean;
  /** `--gpu`: the host's NVIDIA devices, driver libraries and programs (src/run/gpu.ts). */
  gpu?: boolean | undefined;
  /** `--device`: CDI devices (VENDOR/CLASS=NAME) and host device paths (src/run/cdi.ts). */
  devices?: string[] | undefined;
}

/** What is being run and how its root may be written. */
export interface RunTarget {
  rootfs: string;
  /**
   * `ephemeral`: the shared image rootfs stays untouched, writes go to a private layer discarded at
   * exit; `direct`: writes go into `rootfs` itself (named containers, `--location`).
   */
  mode: "ephemeral" | "direct";
  config: ContainerConfig;
  /** For ephemeral runs: a persistent upper/work pair (a named container's layer) instead of scratch. */
  layer?: { upper: string; work: string } | undefined;
}

/** The host side of a run. */
export interface PlanContext {
  hostEnv: NodeJS.ProcessEnv;
  cwd: string;
  scratch: string;
  hostUser: HostUser;
  /** What `--gpu` and `--device` add (resolved on the host by src/run/cdi.ts resolveDevices). */
  devices?: DeviceEdits | undefined;
  /** Kernel overlayfs is usable for this run's writable layer (or fuse-overlayfs, below). */
  overlay: boolean;
  /** fuse-overlayfs mounts the overlay instead of the kernel (it needs the pid namespace and /proc). */
  fuseOverlayfs?: string | undefined;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** The invoking user from the host's passwd/group; the home is `$HOME` when set (what --bindhome binds). */
export function hostUser(env: NodeJS.ProcessEnv = process.env): HostUser {
  const info = os.userInfo();
  const uid = process.getuid?.() ?? info.uid;
  const gid = process.getgid?.() ?? info.gid;
  const groups = parseGroup(readText("/etc/group"));
  return {
    name: info.username,
    uid,
    gid,
    home: env.HOME && path.isAbsolute(env.HOME) ? env.HOME : info.homedir,
    shell: info.shell ?? "/bin/sh",
    groupName: groups.find((g) => g.gid === gid)?.name ?? info.username,
  };
}

/** Whether `rel` inside `root` is a real directory (no symlink on the way), so files may be placed in it. */
function isRealDir(root: string, rel: string): boolean {
  return InRoot.with(root, (r) => r.isDir(rel, "refuse"));
}

/**
 * The text of `rel` as the container will see it, read inside its roots, never through a link to the
 * host: a named container's own layer first (read only where no link is on the way: what a container
 * made a link of is not followed, and reads as empty), else the image's root (links resolved inside it).
 */
function readInRoot(target: RunTarget, rel: string): string {
  try {
    if (target.layer) {
      const found = InRoot.with(target.layer.upper, (r) => {
        const st = r.resolve(rel, "refuse").stat;
        return st === undefined ? undefined : (r.readFile(rel, "refuse") ?? Buffer.alloc(0));
      });
      if (found !== undefined) return found.toString("utf8");
    }
    return InRoot.with(target.rootfs, (r) => r.readFile(rel, "follow"))?.toString("utf8") ?? "";
  } catch (err) {
    // A link out of the layer, or a folder the container made unreadable: no accounts from there.
    if (err instanceof OutsideRootError || isErrno(err)) return "";
    throw err;
  }
}

/** Whether `err` is a file system call's failure (it has an errno code). */
function isErrno(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException | undefined)?.errno === "number";
}

/**
 * Makes the working directory `cwd` (clean, absolute) inside `into`, the writable root of this run, where
 * `lower` (the image's root, when `into` is an overlay upper) lacks it; links are resolved inside the
 * image's root, and the layer's own links (a container's doing) are refused. Returns the path made.
 */
function makeWorkdir(cwd: string, into: string, lower: string | undefined): string {
  try {
    let guest = cwd;
    if (lower !== undefined) {
      const inImage = InRoot.with(lower, (r) => r.resolve(cwd, "follow"));
      if (inImage.stat?.isDirectory() === true) return inImage.guest;
      guest = inImage.guest;
    }
    return InRoot.with(into, (r) => r.mkdirAll(guest, lower !== undefined ? "refuse" : "follow"));
  } catch (err) {
    if (!(err instanceof OutsideRootError) && !isErrno(err)) throw err;
    throw new OutsideRootError(
      `cannot make the working directory ${cwd} inside the container: ${isErrno(err) ? (err as Error).message.replace(/,.*$/s, "") : (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Whether `p` is a directory (following symlinks). */
function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * What a rank of an MPI job needs besides the variables: the PMIx server's and the MPI runtime's
 * rendezvous and session folders at the same path, and the host's /dev/shm (the shared-memory
 * transport between ranks, in place of the private one of `sysdirs`). Only called inside a job.
 */
export function jobMounts(hostEnv: NodeJS.ProcessEnv, sysdirs: boolean): MountSpec[] {
  const mounts: MountSpec[] = rendezvousDirs(hostEnv, isDir).map((dir) => ({
    kind: "bind",
    source: dir,
    destination: dir,
    readonly: false,
    create: true,
  }));
  if (sysdirs && isDir("/dev/shm"))
    mounts.unshift({ kind: "bind", source: "/dev/shm", destination: "/dev/shm", readonly: false });
  return mounts;
}

/**
 * In a PMIx job (the launcher set PMIX_RANK or PMIX_NAMESPACE) and without `-u`: the host user's
 * `uid:gid`, since the PMIx server (mpirun, Slurm's mpi/pmix) accepts only clients that say they are
 * the job's user (the ids the program reads with getuid/getgid, which an emulated root would not
 * match). As Apptainer, a rank runs as the user who started it; `-u` still decides when given.
 */
export function pmixUser(hostEnv: NodeJS.ProcessEnv, hostUser: HostUser): string | undefined {
  if (hostEnv.PMIX_RANK === undefined && hostEnv.PMIX_NAMESPACE === undefined) return undefined;
  return `${hostUser.uid}:${hostUser.gid}`;
}

/** Builds the RunSpec, preparing the writable layer and generated files under `ctx.scratch`. */
export function planRun(target: RunTarget, opts: RunOptions, ctx: PlanContext): RunSpec {
  const cfg = target.config;
  const argv = resolveArgv(cfg, { entrypoint: opts.entrypoint, args: opts.args });
  const network = parseNetwork(opts.network, opts.publish ?? []);
  const limits = parseLimits(opts);
  if (limits?.cgroup !== undefined) limits.cgroup.parent = requireDelegation(limits.cgroup);

  // Accounts come from the image; the running user gets an entry if it has none.
  // A named container's own layer may hold changed accounts (useradd in an earlier run): read those.
  const passwdText = readInRoot(target, "etc/passwd");
  const groupText = readInRoot(target, "etc/group");
  const passwd: PasswdEntry[] = parsePasswd(passwdText);
  const groups: GroupEntry[] = parseGroup(groupText);
  const user = resolveUser(opts.user ?? pmixUser(ctx.hostEnv, ctx.hostUser) ?? cfg.User, passwd, groups);
  const home = opts.bindhome ? ctx.hostUser.home : (user.entry?.home ?? (user.uid === 0 ? "/root" : "/"));
  const accounts = extraAccounts(
    passwd,
    groups,
    { uid: user.uid, gid: user.gid, home },
    ctx.hostUser,
    opts.hostauth,
  );

  // Environment: image Env, then docker's defaults where missing, then -e and --env-file in order.
  const fromFlags: [string, string][] = [];
  for (const f of opts.envFiles) fromFlags.push(...readEnvFile(path.resolve(ctx.cwd, f), ctx.hostEnv));
  for (const e of opts.env) {
    const kv = parseEnvArg(e, ctx.hostEnv);
    if (kv) fromFlags.push(kv);
  }
  const env = mergeEnv(cfg.Env ?? []);
  if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH);
  const hostname = opts.hostname ?? os.hostname();
  if (!env.has("HOSTNAME")) env.set("HOSTNAME", hostname);
  if (!env.has("HOME") || opts.bindhome) env.set("HOME", home);
  if (opts.tty && !env.has("TERM"))
    env.set("TERM", ctx.hostEnv.TERM && ctx.hostEnv.TERM !== "dumb" ? ctx.hostEnv.TERM : "xterm");
  // The scheduler's and MPI launcher's variables (SLURM_*, PMIX_*, OMPI_*, ...), then -e, which wins.
  const job = jobEnv(ctx.hostEnv);
  for (const [k, v] of job) env.set(k, v);
  for (const [k, v] of jobDefaults(ctx.hostEnv)) if (!env.has(k)) env.set(k, v);
  for (const [k, v] of fromFlags) env.set(k, v);
  // A value execve would refuse (E2BIG) is one line here, before any engine or file is touched.
  checkExecSize(argv, envList(env));

  const cwdAsked = opts.workdir ?? (cfg.WorkingDir && cfg.WorkingDir.length > 0 ? cfg.WorkingDir : "/");
  if (!path.posix.isAbsolute(cwdAsked))
    throw new InvalidArgumentError(`invalid working directory "${cwdAsked}": it must be absolute`);
  // Inside the root: `..` stops at its top, links are resolved inside it where the folder is made.
  let cwd = cleanGuestPath(cwdAsked);

  // Volumes: host paths must exist (a typo should not silently create an empty folder).
  const mounts: MountSpec[] = [];
  // Devices: their binds before the volumes, their variables under -e and --env-file's.
  if (ctx.devices) applyDeviceEdits(ctx.devices, env, mounts, new Set(fromFlags.map(([k]) => k)));
  for (const v of opts.volumes) {
    const m = parseVolume(v, ctx.cwd);
    if (!fs.existsSync(m.source)) {
      throw new InvalidArgumentError(
        `volume source ${m.source} does not exist: create it or fix the path in -v ${v}`,
      );
    }
    mounts.push(m);
  }
  if (job.length > 0) mounts.push(...jobMounts(ctx.hostEnv, !opts.nosysdirs));
  if (opts.bindhome)
    mounts.push({
      kind: "bind",
      source: ctx.hostUser.home,
      destination: ctx.hostUser.home,
      readonly: false,
      create: true,
    });

  // The root, and where the generated /etc files go: into the private layer when there is one.
  // Accounts are only rewritten when the running user lacks an entry, so a container's own changes stay.
  const files: Record<string, string> = {
    ...(accounts.passwd.length > 0 ? { "etc/passwd": appendLines(passwdText, accounts.passwd) } : {}),
    ...(accounts.group.length > 0 ? { "etc/group": appendLines(groupText, accounts.group) } : {}),
    // slirp4netns answers DNS at 10.0.2.3 (the host's resolver may be on its loopback, out of reach).
    "etc/resolv.conf": network.mode === "slirp" ? `nameserver ${SLIRP_DNS}\n` : readText("/etc/resolv.conf"),
    "etc/hosts": readText("/etc/hosts"),
  };
  // apt drops to its sandbox user `_apt` and checks that the switch worked, which emulated root
  // cannot do: as emulated root, tell apt to stay root (Apptainer's fakeroot does the same).
  if (user.uid === 0 && isRealDir(target.rootfs, "etc/apt/apt.conf.d")) {
    files["etc/apt/apt.conf.d/00burrow-sandbox"] = 'APT::Sandbox::User "root";\n';
  }
  let root: RootSpec;
  let writeInto: string | undefined;
  /** `writeInto` is a layer made for this run, empty but for the working directory: nothing to replace. */
  let freshUpper = false;
  if (target.mode === "ephemeral" && ctx.overlay) {
    let upper: string;
    let work: string;
    if (target.layer) {
      ({ upper, work } = target.layer);
      for (const d of [upper, work]) fs.mkdirSync(d, { recursive: true });
    } else {
      // A fresh layer in scratch, each folder recorded so that removing the scratch undoes just that
      // (the kernel's overlay makes work/work inside work/).
      upper = makeScratchDir(ctx.scratch, "upper");
      work = makeScratchDir(ctx.scratch, "work");
      noteMade(ctx.scratch, "work/work", true);
      freshUpper = true;
    }
    const mountpoint = path.join(ctx.scratch, "root");
    fs.mkdirSync(mountpoint, { recursive: true });
    noteMade(ctx.scratch, "root", true);
    root = { kind: "overlay", lower: target.rootfs, upper, work, mountpoint };
    if (ctx.fuseOverlayfs !== undefined) root.fuse = ctx.fuseOverlayfs;
    writeInto = isRealDir(target.rootfs, "etc") ? upper : undefined;
    cwd = makeWorkdir(cwd, upper, target.rootfs);
  } else if (target.mode === "ephemeral") {
    // No overlay here: a private copy, discarded at exit.
    const copy = path.join(ctx.scratch, "rootfs");
    try {
      execFileSync("cp", ["-a", "--reflink=auto", target.rootfs, copy], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    } catch (err) {
      throw new StoreError(
        `cannot make a private copy of the image for this run in ${ctx.scratch}: set BURROW_TMPDIR to a folder with space`,
        { cause: err },
      );
    }
    root = { kind: "direct", path: copy, readonly: false };
    writeInto = isRealDir(copy, "etc") ? copy : undefined;
    cwd = makeWorkdir(cwd, copy, undefined);
  } else {
    root = { kind: "direct", path: target.rootfs, readonly: false };
  }
  if (writeInto !== undefined && freshUpper) {
    // The run's own empty layer: make the folders and files (recorded for the scratch's removal).
    const upperRel = path.relative(ctx.scratch, writeInto);
    const dirs = new Set<string>();
    for (const rel of Object.keys(files)) {
      const parts = rel.split("/").slice(0, -1);
      for (let i = 1; i <= parts.length; i++) {
        const d = parts.slice(0, i).join("/");
        if (dirs.has(d)) continue;
        dirs.add(d);
        try {
          fs.mkdirSync(path.join(writeInto, d), { mode: 0o755 });
          noteMade(ctx.scratch, `${upperRel}/${d}`, true);
        } catch (err) {
          // The working directory made above may already hold it.
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
      }
    }
    for (const [rel, text] of Object.entries(files)) {
      fs.writeFileSync(path.join(writeInto, rel), text, { mode: 0o644, flag: "wx" });
      noteMade(ctx.scratch, `${upperRel}/${rel}`, false);
    }
  } else if (writeInto !== undefined) {
    // A layer the container (or the image) shaped: written without following any link in it; a file
    // whose folder is a link there is bound instead, where the engine resolves it inside the root.
    const into = writeInto;
    for (const [rel, text] of Object.entries(files)) {
      try {
        InRoot.with(into, (r) => r.writeFile(rel, text, { links: "refuse", mode: 0o644 }));
        delete files[rel];
      } catch (err) {
        // Bound instead, below: a link there (not followed), or a folder the container made unwritable.
        if (!(err instanceof OutsideRootError) && !isErrno(err)) throw err;
      }
    }
  }
  if (writeInto === undefined || (!freshUpper && Object.keys(files).length > 0)) {
    // Direct roots are not ours to edit: bind the generated files over the image's.
    const gen = path.join(ctx.scratch, "etc");
    fs.mkdirSync(gen, { recursive: true });
    const binds: MountSpec[] = [];
    for (const [rel, text] of Object.entries(files)) {
      const src = path.join(gen, rel.replaceAll("/", "_"));
      fs.writeFileSync(src, text, { mode: 0o644 });
      binds.push({ kind: "bind", source: src, destination: `/${rel}`, readonly: false, create: true });
    }
    mounts.unshift(...binds);
  }

  return {
    root,
    argv,
    env: envList(env),
    cwd,
    uid: user.uid,
    gid: user.gid,
    mounts,
    sysdirs: !opts.nosysdirs,
    hostname: opts.hostname,
    tty: opts.tty,
    fakeRoot: user.uid === 0,
    ...(network.mode !== "host" || network.publish.length > 0 ? { network } : {}),
    ...(limits !== undefined ? { limits } : {}),
    pidNamespace: !opts.nosysdirs,
  };
}

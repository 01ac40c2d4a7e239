// Before step 3 of a run (src/run/run-request.ts): reads what the plan decides from, so that the plan
// itself (src/run/plan-spec.ts) reads no file: the root's accounts and folders, the host's user, names and
// files, the `--env-file` files, which `-v` sources exist, a job's folders, the delegated cgroup.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { MountSpec } from "../engine-interface.js";
import { execLimits } from "./exec-limits.js";
import { jobEnv, readEnvFile, rendezvousDirs } from "./env.js";
import { parseGroup } from "./user.js";
import { parseMount, parseVolume } from "./volumes.js";
import type { HostUser } from "./passwd.js";
import type { DeviceEdits } from "./cdi.js";
import { parseLimits } from "./limits.js";
import { requireDelegation } from "./cgroup.js";
import type { ContainerConfig } from "./image-config.js";
import type { RunOptions } from "./options.js";
import type { PlanInputs, RootFacts, RootLayout } from "./plan-spec.js";
import { isErrno } from "./materialise-root.js";
import { InRoot, OutsideRootError } from "../fs/in-root.js";
import { FactsRoot } from "../store/squashfs.js";

/** A host file's text, "" when it cannot be read. */
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

/** The image's root of a layout: the folder whose files the container sees beneath its own changes. */
function rootfsOf(layout: RootLayout): string {
  return layout.kind === "overlay" ? layout.lower : layout.kind === "copy" ? layout.from : layout.path;
}

/**
 * The text of `rel` as the container will see it, read inside its roots, never through a link to the
 * host: a named container's own layer first (read only where no link is on the way: what a container
 * made a link of is not followed, and reads as empty), else the image's root (links resolved inside it).
 */
function readInRoot(layout: RootLayout, rel: string): string {
  try {
    const layer = layout.kind === "overlay" ? layout.layer : undefined;
    if (layer) {
      const found = InRoot.with(layer.upper, (r) => {
        const st = r.resolve(rel, "refuse").stat;
        return st === undefined ? undefined : (r.readFile(rel, "refuse") ?? Buffer.alloc(0));
      });
      if (found !== undefined) return found.toString("utf8");
    }
    return InRoot.with(rootfsOf(layout), (r) => r.readFile(rel, "follow"))?.toString("utf8") ?? "";
  } catch (err) {
    // A link out of the layer, or a folder the container made unreadable: no accounts from there.
    if (err instanceof OutsideRootError || isErrno(err)) return "";
    throw err;
  }
}

/** Whether `rel` inside `root` is a real directory (no symlink on the way), so files may be placed in it. */
function isRealDir(root: string, rel: string): boolean {
  return InRoot.with(root, (r) => r.isDir(rel, "refuse"));
}

/** The root's files and folders the plan reads. */
function rootFacts(layout: RootLayout): RootFacts {
  // A SquashFS image is read from the facts recorded when it was packed (it is mounted only inside).
  const squashfs = layout.kind === "overlay" ? layout.squashfs : undefined;
  if (squashfs !== undefined) {
    const facts = new FactsRoot(squashfs.facts);
    return {
      passwd: squashfs.facts.passwd,
      group: squashfs.facts.group,
      hasEtc: facts.isDir("etc", "refuse"),
      hasAptConfDir: facts.isDir("etc/apt/apt.conf.d", "refuse"),
    };
  }
  const rootfs = rootfsOf(layout);
  return {
    passwd: readInRoot(layout, "etc/passwd"),
    group: readInRoot(layout, "etc/group"),
    hasEtc: isRealDir(rootfs, "etc"),
    hasAptConfDir: isRealDir(rootfs, "etc/apt/apt.conf.d"),
  };
}

/** Which host sources of `-v` and `--mount type=bind` exist (an invalid flag is left for the plan to refuse). */
function existingSources(options: RunOptions, cwd: string): Set<string> {
  const found = new Set<string>();
  const sources = [
    ...options.volumes.map((v) => () => parseVolume(v, cwd).source),
    ...options.mounts.map((m) => () => {
      const mount = parseMount(m, cwd);
      return mount.kind === "bind" ? mount.source : undefined;
    }),
  ];
  for (const sourceOf of sources) {
    let source: string | undefined;
    try {
      source = sourceOf();
    } catch {
      continue;
    }
    if (source !== undefined && fs.existsSync(source)) found.add(source);
  }
  return found;
}

/** Reads what the plan of a run decides from. */
export function readPlanInputs(run: {
  layout: RootLayout;
  scratch: string;
  config: ContainerConfig;
  options: RunOptions;
  hostEnv: NodeJS.ProcessEnv;
  devices?: DeviceEdits | undefined;
}): PlanInputs {
  const { options, hostEnv } = run;
  const cwd = process.cwd();
  const cgroup = parseLimits(options)?.cgroup;
  return {
    ...run,
    host: {
      env: hostEnv,
      cwd,
      user: hostUser(hostEnv),
      hostname: os.hostname(),
      resolvConf: readText("/etc/resolv.conf"),
      hosts: readText("/etc/hosts"),
      execLimits: execLimits(),
    },
    root: rootFacts(run.layout),
    envFileVars: options.envFiles.flatMap((f) => readEnvFile(path.resolve(cwd, f), hostEnv)),
    existingSources: existingSources(options, cwd),
    jobMounts: jobEnv(hostEnv).length > 0 ? jobMounts(hostEnv, !options.nosysdirs) : [],
    cgroupParent: cgroup !== undefined ? requireDelegation(cgroup) : undefined,
  };
}

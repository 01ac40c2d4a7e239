// cgroup v2 for `--memory`, `--cpus`, `--pids-limit`: find a subtree delegated to the user, make one child
// cgroup per run with the limits written, remove it afterwards. Where none is delegated, one clear line.
import fs from "node:fs";
import path from "node:path";
import type { CgroupLimits } from "../engine-interface.js";
import { InvalidArgumentError } from "../errors.js";
import { cgroupFiles } from "./limits.js";

/** cgroup2's file system magic (statfs(2) of /sys/fs/cgroup on a unified host). */
export const CGROUP2_MAGIC = 0x63677270;

/** What detection reads: the file system type of a path, a file's text, whether a path is writable. */
export interface CgroupView {
  statfsType(p: string): number | undefined;
  readFile(p: string): string | undefined;
  writable(p: string): boolean;
}

/** The real /proc and /sys. */
export const hostView: CgroupView = {
  statfsType: (p) => {
    try {
      return Number(fs.statfsSync(p).type);
    } catch {
      return undefined;
    }
  },
  readFile: (p) => {
    try {
      return fs.readFileSync(p, "utf8");
    } catch {
      return undefined;
    }
  },
  writable: (p) => {
    try {
      fs.accessSync(p, fs.constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
};

/** The controllers each limit needs. */
export function neededControllers(limits: CgroupLimits): string[] {
  const c: string[] = [];
  if (limits.memory !== undefined) c.push("memory");
  if (limits.cpus !== undefined) c.push("cpu");
  if (limits.pids !== undefined) c.push("pids");
  return c;
}

/** Where the limits can go, or why not (a sentence fragment). */
export type Delegation = { ok: true; dir: string } | { ok: false; reason: string };

/**
 * A cgroup folder this user may make children in with `controllers` enabled for them: /sys/fs/cgroup must
 * be cgroup2, and the process's own cgroup (/proc/self/cgroup's `0::` line) or one of its ancestors must be
 * writable with the controllers in its cgroup.subtree_control (systemd's Delegate=yes gives user@UID.service).
 */
export function findDelegation(
  controllers: readonly string[],
  view: CgroupView = hostView,
  mount = "/sys/fs/cgroup",
): Delegation {
  if (view.statfsType(mount) !== CGROUP2_MAGIC)
    return { ok: false, reason: "this machine has cgroup v1/hybrid, not a unified cgroup v2 hierarchy" };
  const own = /^0::(\/.*)$/m.exec(view.readFile("/proc/self/cgroup") ?? "")?.[1];
  if (own === undefined) return { ok: false, reason: "this process is in no cgroup v2 (/proc/self/cgroup)" };
  let rel = path.posix.normalize(own);
  for (;;) {
    const dir = path.posix.join(mount, rel);
    const enabled = (view.readFile(path.posix.join(dir, "cgroup.subtree_control")) ?? "").split(/\s+/);
    if (
      rel !== "/" &&
      view.writable(dir) &&
      view.writable(path.posix.join(dir, "cgroup.procs")) &&
      controllers.every((c) => enabled.includes(c))
    )
      return { ok: true, dir };
    if (rel === "/") break;
    rel = path.posix.dirname(rel);
  }
  return {
    ok: false,
    reason: `no cgroup v2 subtree with the ${controllers.join(", ")} controller${controllers.length > 1 ? "s" : ""} is delegated to this user`,
  };
}

/** The option names behind `limits`, for messages. */
function optionNames(limits: CgroupLimits): string {
  const names: string[] = [];
  if (limits.memory !== undefined) names.push("--memory");
  if (limits.cpus !== undefined) names.push("--cpus");
  if (limits.pids !== undefined) names.push("--pids-limit");
  return names.join(", ");
}

/** The delegated folder for `limits`, or the one-line refusal (exit 125) that says why there is none. */
export function requireDelegation(limits: CgroupLimits, view: CgroupView = hostView): string {
  const found = findDelegation(neededControllers(limits), view);
  if (found.ok) return found.dir;
  const opts = optionNames(limits);
  throw new InvalidArgumentError(
    `${opts} ${opts.includes(",") ? "need" : "needs"} a delegated cgroup v2 subtree (${found.reason}): ask your admin to delegate one (systemd: Delegate=yes), or run without ${opts}`,
  );
}

/** A cgroup made for one run: its folder, and removal once the run is over. */
export interface RunCgroup {
  dir: string;
  remove(): void;
}

/** Makes `parent/burrow-ID` with the limits written (memory.max, cpu.max, pids.max). */
export function makeRunCgroup(parent: string, limits: CgroupLimits, id: string): RunCgroup {
  const dir = path.join(parent, `burrow-${id}`);
  fs.mkdirSync(dir);
  try {
    for (const [file, value] of Object.entries(cgroupFiles(limits)))
      fs.writeFileSync(path.join(dir, file), value);
  } catch (err) {
    fs.rmdirSync(dir);
    throw new InvalidArgumentError(`cannot set the limits in ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    dir,
    remove: () => {
      // A cgroup can be removed once empty: its last process may take a moment to be reaped.
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EBUSY") return;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        }
      }
    },
  };
}

// Whether a store can be trusted: nobody but its user (or the members of a group shared on purpose) can
// write it or rename it away, so nobody else can swap the images the user runs. A few lstat calls.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BurrowError } from "../errors.js";

/** The store's top folders, made when missing and checked on every command (src/store/paths.ts and the others). */
export const TOP_FOLDERS = [
  "blobs",
  "blobs/sha256",
  "images",
  "refs",
  "locks",
  "tmp",
  "containers",
  "holds",
  "run",
  "bin",
] as const;

/** A store that someone else could write, or that cannot be made: the message says why and what to do. */
export class UnsafeStoreError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super("ERR_STORE_UNSAFE", message, options);
  }
}

/** Who the store belongs to, and the group it is shared with on purpose (BURROW_SHARED_GROUP, config `sharedGroup`). */
export interface StoreTrust {
  uid: number;
  /** Our primary group: group-writable folders of it are fine where it is our private group (one member: us). */
  gid: number;
  /** The group whose members may write the store (its folders group-writable and of that group). */
  sharedGid?: number | undefined;
  /** The user's name (a user-private group has the user's name); looked up only when needed. */
  userName?: (() => string | undefined) | undefined;
}

/** The trust of the running process, with `shared` (a group name or number) as the shared group. */
export function processTrust(shared: string | undefined, status = 1): StoreTrust {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const userName = (): string | undefined => {
    try {
      return os.userInfo().username;
    } catch {
      return undefined;
    }
  };
  return { uid, gid, userName, sharedGid: shared === undefined ? undefined : groupId(shared, status) };
}

/** `/etc/group`'s lines as [name, gid, members]. */
function groupEntries(): [string, number, string[]][] {
  let text: string;
  try {
    text = fs.readFileSync("/etc/group", "utf8");
  } catch {
    return [];
  }
  const out: [string, number, string[]][] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    out.push([f[0]!, Number(f[2]), f[3]!.split(",").filter(Boolean)]);
  }
  return out;
}

/** The gid of a group given by name or number; a name /etc/group lacks is refused with one line. */
export function groupId(group: string, status = 1): number {
  if (/^\d+$/.test(group)) return Number(group);
  const found = groupEntries().find(([name]) => name === group);
  if (found) return found[1];
  throw new UnsafeStoreError(
    `the shared group "${group}" (BURROW_SHARED_GROUP or config sharedGroup) is unknown here: give its number or a group of /etc/group`,
    { exitCode: status },
  );
}

/** Whether `gid` is our user-private group: named like us, with no other member (RHEL and Debian make one per user). */
function isPrivateGroup(gid: number, trust: StoreTrust): boolean {
  if (gid !== trust.gid) return false;
  const me = trust.userName?.();
  if (me === undefined) return false;
  const found = groupEntries().find(([, g]) => g === gid);
  return found !== undefined && found[0] === me && found[2].every((m) => m === me);
}

/** The kernel's overflow uid: what a user namespace shows for a host owner it does not map (root's folders). */
function overflowUid(): number {
  try {
    return Number(fs.readFileSync("/proc/sys/kernel/overflowuid", "utf8").trim());
  } catch {
    return 65534;
  }
}

const STICKY = 0o1000;

/** Why a folder of the store itself (root or top folder) is not safe, or undefined. */
export function folderProblem(st: fs.Stats, trust: StoreTrust): string | undefined {
  if (!st.isDirectory()) return "is not a folder";
  const shared = trust.sharedGid !== undefined && st.gid === trust.sharedGid;
  if (st.uid !== trust.uid && !shared) return `belongs to uid ${st.uid}, not to you (uid ${trust.uid})`;
  if ((st.mode & 0o002) !== 0) return "is writable by every user";
  if ((st.mode & 0o020) !== 0 && !shared && !isPrivateGroup(st.gid, trust)) {
    return `is writable by group ${st.gid}`;
  }
  return undefined;
}

/** Why an ancestor folder of the store is unsafe (another user could rename the store away), or undefined. */
export function ancestorProblem(st: fs.Stats, trust: StoreTrust): string | undefined {
  const sticky = (st.mode & STICKY) !== 0;
  if (st.uid !== trust.uid && st.uid !== 0 && st.uid !== overflowUid()) {
    return `belongs to uid ${st.uid}, who could rename the store away`;
  }
  if (sticky) return undefined; // /tmp: others cannot rename or delete what is ours in it.
  if ((st.mode & 0o002) !== 0) return "is writable by every user, who could rename the store away";
  if ((st.mode & 0o020) !== 0 && st.gid !== trust.sharedGid && !isPrivateGroup(st.gid, trust)) {
    return `is writable by group ${st.gid}, whose members could rename the store away`;
  }
  return undefined;
}

/** The folders between `/` and `dir` (excluded), nearest first. */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    out.push(d);
    if (d === path.dirname(d)) return out;
  }
}

/** The real path of `p`, or of its nearest existing parent with the rest appended. */
function realExisting(p: string): string {
  const rest: string[] = [];
  for (let d = path.resolve(p); ; d = path.dirname(d)) {
    try {
      return path.join(fs.realpathSync.native(d), ...rest.reverse());
    } catch {
      if (d === path.dirname(d)) return path.resolve(p);
      rest.push(path.basename(d));
    }
  }
}

/** How to fix a folder that is not safe, in words. */
function remedy(trust: StoreTrust): string {
  return trust.sharedGid === undefined
    ? "make it yours and not writable by others (chmod go-w), or use another store (BURROW_DIR, --repo); to share a store with a group on purpose, set BURROW_SHARED_GROUP"
    : "make it yours or the shared group's, and not writable by every user (chmod o-w), or use another store (BURROW_DIR, --repo)";
}

/**
 * Makes `dir` and its missing parents one by one (Node's recursive mkdir spins forever on /proc, where
 * mkdir answers ENOENT), with `mode`; a parent that cannot be made is an error with its cause.
 */
export function makeFolders(dir: string, mode: number): void {
  const missing: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.lstatSync(d, { throwIfNoEntry: false }) !== undefined) break;
    missing.push(d);
    if (d === path.dirname(d) || missing.length > 4096) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/** Whether `dir` is on a pseudo file system (/proc, /sys) that is no place for a store. */
function pseudoFileSystem(dir: string): string | undefined {
  const real = path.resolve(dir);
  for (const p of ["/proc", "/sys"]) if (real === p || real.startsWith(`${p}/`)) return p;
  return undefined;
}

/**
 * Opens the store at `root` for use: makes it (0700) and its top folders (0755; 2770 for a shared
 * group, tmp/ 0770) where missing, then refuses it with one line when someone else could write or swap it.
 * `status` is the exit status of the refusal (1; 125 for run and exec).
 */
export function openTrustedStore(root: string, trust: StoreTrust, status: number): void {
  const fail: (message: string, cause?: unknown) => never = (message, cause) => {
    throw new UnsafeStoreError(message, { exitCode: status, ...(cause !== undefined ? { cause } : {}) });
  };
  const pseudo = pseudoFileSystem(root);
  if (pseudo !== undefined) {
    fail(
      `the store ${root} is under ${pseudo}, a kernel file system where no store can be made: set BURROW_DIR (or --repo) to a folder of yours`,
    );
  }
  const shared = trust.sharedGid !== undefined;
  const folderMode = shared ? 0o2770 : 0o755;
  const what = (err: unknown): string => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EROFS") return "the file system is read-only";
    if (code === "EACCES" || code === "EPERM") return "permission denied";
    if (code === "ENOSPC" || code === "EDQUOT") return "no space left";
    if (code === "ENOTDIR") return "a part of its path is not a folder";
    if (code === "ENOENT") return "a folder above it cannot be made";
    return (err as Error).message;
  };
  const checkAncestors = (real: string): void => {
    for (const a of ancestors(real)) {
      const st = fs.lstatSync(a, { throwIfNoEntry: false });
      const why = st && ancestorProblem(st, trust);
      if (why !== undefined) {
        fail(
          `refusing the store ${root}: the folder ${a} above it ${why}; use a store under a folder only you (or root) can write, or set BURROW_SHARED_GROUP if you trust that group`,
        );
      }
    }
  };
  let rootStat: fs.Stats;
  try {
    let st = fs.lstatSync(root, { throwIfNoEntry: false });
    if (st === undefined) {
      // Nothing is made under a folder that would be refused: its parents are checked first.
      checkAncestors(path.join(realExisting(path.dirname(root)), "x"));
      makeFolders(root, 0o700);
      if (shared) {
        fs.chownSync(root, -1, trust.sharedGid!);
        fs.chmodSync(root, folderMode);
      }
      st = fs.lstatSync(root);
    }
    if (st.isSymbolicLink() && st.uid !== trust.uid && st.uid !== 0) {
      fail(
        `the store ${root} is a symbolic link of uid ${st.uid}, who could point it elsewhere: ${remedy(trust)}`,
      );
    }
    if (st.isSymbolicLink()) {
      // Whoever can write the folder that holds the link can point it elsewhere.
      checkAncestors(path.join(realExisting(path.dirname(root)), "x"));
      rootStat = fs.statSync(root);
    } else {
      rootStat = st;
    }
  } catch (err) {
    if (err instanceof UnsafeStoreError) throw err;
    return fail(
      `cannot make the store ${root}: ${what(err)}; set BURROW_DIR (or --repo) to a folder you can write`,
      err,
    );
  }
  const rootWhy = folderProblem(rootStat, trust);
  if (rootWhy !== undefined) fail(`refusing the store ${root}: it ${rootWhy}; ${remedy(trust)}`);
  checkAncestors(realExisting(root));
  for (const name of TOP_FOLDERS) {
    const dir = path.join(root, name);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(dir, { throwIfNoEntry: false });
      if (st === undefined) {
        // tmp/ is not setgid: a run's scratch there must be of the user's own group, which the user
        // namespace maps (an overlay refuses a work folder of an unmapped group).
        const mode = shared && name === "tmp" ? 0o770 : folderMode;
        if (makeFolder(dir, mode) && shared) {
          fs.chownSync(dir, -1, trust.sharedGid!);
          fs.chmodSync(dir, mode);
        }
        st = fs.lstatSync(dir);
      }
    } catch (err) {
      // A store we may read but not write (read-only mount, chmod a-w) still lists and inspects; the
      // first write says why (src/store/holds.ts for run).
      if (
        st === undefined &&
        ["EROFS", "EACCES", "EPERM"].includes((err as NodeJS.ErrnoException).code ?? "")
      ) {
        continue;
      }
      fail(`cannot make ${dir} in the store: ${what(err)}; check the store ${root}`, err);
    }
    if (st.isSymbolicLink()) {
      fail(
        `refusing the store ${root}: ${dir} is a symbolic link, which burrow never makes there; ${remedy(trust)}`,
      );
    }
    const why = folderProblem(st, trust);
    if (why !== undefined) fail(`refusing the store ${root}: its folder ${dir} ${why}; ${remedy(trust)}`);
  }
}

/**
 * Makes `dir` with `mode`; false when another process made it first (concurrent first commands on a new
 * store, as a job array's tasks are), whose folder is then checked like any other.
 */
function makeFolder(dir: string, mode: number): boolean {
  try {
    fs.mkdirSync(dir, { mode });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

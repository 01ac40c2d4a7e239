// Resolves paths as a program under PRoot sees them (the rootfs plus binds, symlinks followed inside the guest).
import fs from "node:fs";
import path from "node:path";

/** One PRoot bind: host `source` shown at guest path `destination`. */
export interface GuestBind {
  source: string;
  destination: string;
}

/** How many symlinks one lookup follows before giving up (the kernel's limit, ELOOP). */
const MAX_SYMLINKS = 40;

/** The host path that guest path `guest` (absolute, normalised, no symlinks left) maps to. */
export function hostPathOf(root: string, binds: readonly GuestBind[], guest: string): string {
  let best: GuestBind | undefined;
  for (const b of binds) {
    const inside =
      guest === b.destination || guest.startsWith(b.destination === "/" ? "/" : `${b.destination}/`);
    // The longest destination wins; for equal ones the later bind (PRoot applies them in order).
    if (inside && (best === undefined || b.destination.length >= best.destination.length)) best = b;
  }
  if (best === undefined) return path.join(root, guest);
  return path.join(best.source, path.posix.relative(best.destination, guest));
}

/** The result of resolving a guest path: where it is, and where that is on the host. */
export interface Resolved {
  /** The guest path with every symlink followed (the last component too, unless `nofollow`). */
  guest: string;
  /** The host path it maps to. */
  host: string;
  /** lstat of `host`, or undefined when nothing is there. */
  stat: fs.Stats | undefined;
}

/**
 * Resolves `guestPath` (absolute, or relative to `cwd`) inside the guest: absolute symlinks restart at
 * the guest root, `..` stops at the guest root (as PRoot does), binds map prefixes to host paths. A
 * missing component ends the walk: the rest is appended unresolved and `stat` is undefined.
 */
export function resolveGuest(
  root: string,
  binds: readonly GuestBind[],
  guestPath: string,
  opts: { cwd?: string; nofollow?: boolean } = {},
): Resolved {
  const start = path.posix.isAbsolute(guestPath) ? guestPath : path.posix.join(opts.cwd ?? "/", guestPath);
  let pending = start.split("/").filter((c) => c !== "" && c !== ".");
  let cur = "/";
  let links = 0;
  while (pending.length > 0) {
    const comp = pending.shift()!;
    if (comp === "..") {
      cur = path.posix.dirname(cur);
      continue;
    }
    const next = path.posix.join(cur, comp);
    const host = hostPathOf(root, binds, next);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      const guest = path.posix.join(next, ...pending);
      return { guest, host: hostPathOf(root, binds, guest), stat: undefined };
    }
    const last = pending.length === 0;
    if (st.isSymbolicLink() && !(last && opts.nofollow)) {
      if (++links > MAX_SYMLINKS) return { guest: next, host, stat: undefined };
      const target = fs.readlinkSync(host);
      const parts = target.split("/").filter((c) => c !== "" && c !== ".");
      if (target.startsWith("/")) cur = "/";
      pending = [...parts, ...pending];
      continue;
    }
    cur = next;
    if (last) return { guest: cur, host, stat: st };
  }
  const host = hostPathOf(root, binds, cur);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(host);
  } catch {
    stat = undefined;
  }
  return { guest: cur, host, stat };
}

/** What looking up the program found: its guest path, or why it cannot run (execvp's errors). */
export type ProgramLookup = { ok: true; guest: string } | { ok: false; status: 126 | 127; message: string };

/** Whether a resolved entry is a regular file with an execute bit. */
function executable(r: Resolved): boolean {
  return r.stat !== undefined && r.stat.isFile() && (r.stat.mode & 0o111) !== 0;
}

/**
 * Looks `program` up as execvp(3) would inside the guest: a name containing `/` is taken as a path
 * (relative to `cwd`); a bare name is searched in `searchPath` (`PATH`; `/bin:/usr/bin` when unset),
 * where a match that exists but cannot be executed is remembered and reported only if no later
 * directory holds an executable one. Statuses and wording follow burrow-ns: 127 not found, 126 cannot
 * execute.
 */
export function findProgram(
  root: string,
  binds: readonly GuestBind[],
  program: string,
  searchPath: string | undefined,
  cwd: string,
): ProgramLookup {
  if (program === "") return { ok: false, status: 127, message: "'': command not found" };
  if (program.includes("/")) {
    const r = resolveGuest(root, binds, program, { cwd });
    if (r.stat === undefined)
      return { ok: false, status: 127, message: `${program}: No such file or directory` };
    if (r.stat.isDirectory())
      return { ok: false, status: 126, message: `${program}: cannot execute: Is a directory` };
    if (!executable(r))
      return { ok: false, status: 126, message: `${program}: cannot execute: Permission denied` };
    return { ok: true, guest: r.guest };
  }
  let denied: string | undefined;
  for (const dir of (searchPath ?? "/bin:/usr/bin").split(":")) {
    const r = resolveGuest(root, binds, path.posix.join(dir === "" ? "." : dir, program), { cwd });
    if (r.stat === undefined || r.stat.isDirectory()) continue;
    if (executable(r)) return { ok: true, guest: r.guest };
    denied ??= r.guest;
  }
  if (denied !== undefined) {
    return { ok: false, status: 126, message: `${program}: cannot execute: Permission denied` };
  }
  return { ok: false, status: 127, message: `${program}: command not found` };
}

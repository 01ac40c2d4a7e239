// Signs that someone else changed the store (`verify`): files burrow wrote that became links, other kinds
// of files, or another user's; each said in one line, never an internal error.
import fs from "node:fs";
import path from "node:path";
import type { RootfsSummary } from "./store.js";

/** Whose files the store's may be: ours, or the shared group's (src/store/trust.ts). */
export interface Owner {
  uid: number;
  sharedGid?: number | undefined;
}

/** Whether a file's owner is one the store may hold. */
function ownedBy(st: fs.Stats, owner: Owner): boolean {
  return st.uid === owner.uid || (owner.sharedGid !== undefined && st.gid === owner.sharedGid);
}

/** The reason an error code gives, in words. */
function errorWords(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(err);
}

/**
 * What is wrong with a file burrow wrote as a regular file of the user's (a blob): undefined when it is
 * one, else a line that says it was tampered with. Missing files are the caller's to report.
 */
export function fileTampering(file: string, owner: Owner): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    return `cannot be examined (${errorWords(err)}): the store was tampered with`;
  }
  if (st.isSymbolicLink()) {
    let to = "";
    try {
      to = ` to ${fs.readlinkSync(file)}`;
    } catch {
      // The target is not needed to say so.
    }
    return `is a symbolic link${to}, which burrow never makes there: the store was tampered with`;
  }
  if (!st.isFile()) return "is not a regular file: the store was tampered with";
  if (!ownedBy(st, owner)) return `belongs to uid ${st.uid}, not to you: the store was tampered with`;
  return undefined;
}

/** What a walk of a rootfs found: its counts, and the signs of tampering met. */
export interface RootfsCheck {
  summary: RootfsSummary | undefined;
  problems: string[];
}

/**
 * Walks an image's rootfs (links not followed) as `summarizeTree` counts it, and notes what points to
 * tampering: the rootfs or its image folder swapped for a link, entries of other users, unreadable folders.
 */
export function checkRootfs(imageDir: string, owner: Owner): RootfsCheck {
  const problems: string[] = [];
  const root = path.join(imageDir, "rootfs");
  for (const p of [imageDir, root]) {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined) return { summary: undefined, problems };
    if (st.isSymbolicLink()) {
      problems.push(`${p} is a symbolic link, which burrow never makes: the store was tampered with`);
      return { summary: undefined, problems };
    }
    if (!st.isDirectory()) {
      problems.push(`${p} is not a folder: the store was tampered with`);
      return { summary: undefined, problems };
    }
    if (!ownedBy(st, owner)) {
      problems.push(`${p} belongs to uid ${st.uid}, not to you: the store was tampered with`);
    }
  }
  const sum: RootfsSummary = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  let foreign = 0;
  let firstForeign = "";
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    sum.dirs++;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      problems.push(`rootfs folder ${dir} cannot be read (${errorWords(err)}): the store was tampered with`);
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue; // Removed meanwhile: the counts tell.
      }
      if (!ownedBy(st, owner)) {
        if (foreign++ === 0) firstForeign = `${p} (uid ${st.uid})`;
      }
      if (st.isDirectory()) stack.push(p);
      else if (st.isSymbolicLink()) sum.symlinks++;
      else if (st.isFile()) {
        sum.files++;
        sum.bytes += st.size;
      }
    }
  }
  if (foreign > 0) {
    problems.push(
      `rootfs holds ${foreign} entr${foreign === 1 ? "y" : "ies"} of other users, first ${firstForeign}: the store was tampered with`,
    );
  }
  return { summary: sum, problems };
}

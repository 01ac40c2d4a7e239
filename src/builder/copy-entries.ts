// Copying source entries into the destination root, by descriptor on both sides: files are copied one by
// one with copyFileSync (a reflink where the file system makes one; hard links are never made), links are
// copied as links, folders are merged; modes and times are kept (--chmod overrides the mode of files and
// folders), and every path written gets the step's owner.
import fs from "node:fs";
import type { SourceTree } from "./source-tree.js";
import { type DestRoot, type OpenDir, guestJoin, guestSplit } from "./dest-root.js";
import { at, errnoCode, lstatAt, openDirAt, openFileAt, self } from "./fd-path.js";
import { BurrowError } from "../errors.js";

const { COPYFILE_EXCL, COPYFILE_FICLONE, O_RDONLY, O_NOFOLLOW } = fs.constants;

/** What one copy needs: where from, where to, and the --chmod mode if given. */
export interface CopyJob {
  tree: SourceTree;
  dest: DestRoot;
  chmod: number | undefined;
}

/**
 * The mode a folder gets on disk: the user running burrow owns the whole root and must be able to enter and
 * write every folder in it (flatten keeps the same rule), so the owner bits are always rwx.
 */
export function diskDirMode(mode: number): number {
  return (mode & 0o7777) | 0o700;
}

/** Copies what source folder `comps` holds into the folder `destGuest` (made, with its parents, when missing). */
export function copyFolderContents(job: CopyJob, comps: string[], destGuest: string): void {
  const src = job.tree.openDir(comps);
  let dst: OpenDir | undefined;
  try {
    dst = job.dest.openDir(destGuest, true)!;
    copyChildren(job, src, comps.join("/"), dst.fd, dst.guest);
  } finally {
    fs.closeSync(src);
    if (dst !== undefined) fs.closeSync(dst.fd);
  }
}

/** Copies the source entry `comps` (a file, never a folder) to the guest path `target` (links resolved inside the root). */
export function copyOneEntry(job: CopyJob, comps: string[], stat: fs.Stats, target: string): void {
  const real = job.dest.resolve(target);
  if (real.guest === "/" || real.stat?.isDirectory() === true) {
    throw job.tree.fail(`cannot replace the folder ${real.guest} with a file`);
  }
  const [dir, name] = guestSplit(real.guest);
  const src = job.tree.openDir(comps.slice(0, -1));
  let dst: OpenDir | undefined;
  try {
    dst = job.dest.openDir(dir, true)!;
    const into = dst;
    guarded(job, comps.join("/"), () =>
      copyEntry(job, src, comps.at(-1)!, comps.join("/"), stat, into, name),
    );
  } finally {
    fs.closeSync(src);
    if (dst !== undefined) fs.closeSync(dst.fd);
  }
}

/** Copies the entries of the open source folder (tree path `rel`) into the open destination folder. */
function copyChildren(job: CopyJob, srcFd: number, rel: string, dstFd: number, dstGuest: string): void {
  for (const name of job.tree.list(srcFd, rel)) {
    const st = lstatAt(srcFd, name);
    const childRel = rel === "" ? name : `${rel}/${name}`;
    if (st === undefined && name.includes("\uFFFD")) {
      throw job.tree.fail(
        `cannot copy "${childRel}" from ${job.tree.label}: its name is not valid UTF-8; rename it`,
      );
    }
    if (st === undefined) continue;
    guarded(job, childRel, () => {
      if (st.isDirectory()) copyFolder(job, srcFd, name, childRel, st, { fd: dstFd, guest: dstGuest });
      else copyEntry(job, srcFd, name, childRel, st, { fd: dstFd, guest: dstGuest }, name);
    });
  }
}

/** Runs `fn`, turning a file-system failure (other than a full disk) into one line naming the source path. */
function guarded(job: CopyJob, rel: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    const code = errnoCode(err);
    if (err instanceof BurrowError || code === undefined || code === "ENOSPC" || code === "EDQUOT") throw err;
    const why =
      code === "EACCES" || code === "EPERM"
        ? "permission denied"
        : (/^[A-Z]+: [^,]+/.exec((err as Error).message)?.[0] ?? code);
    throw job.tree.fail(`cannot copy "${rel}" from ${job.tree.label}: ${why}`, err);
  }
}

/** Copies the source folder `name` of `srcFd` to the same name in `dst`, merging into a folder already there. */
function copyFolder(
  job: CopyJob,
  srcFd: number,
  name: string,
  rel: string,
  st: fs.Stats,
  dst: OpenDir,
): void {
  const guest = guestJoin(dst.guest, name);
  const there = lstatAt(dst.fd, name);
  let target: OpenDir;
  if (there?.isSymbolicLink() === true && job.dest.isDir(guest)) {
    // A link to a folder in the image (/lib -> usr/lib): merged into what it points to, inside the root.
    target = job.dest.openDir(guest, false)!;
  } else {
    if (there !== undefined && !there.isDirectory()) fs.unlinkSync(at(dst.fd, name));
    if (there === undefined || !there.isDirectory()) fs.mkdirSync(at(dst.fd, name), { mode: 0o700 });
    target = { fd: openDirAt(dst.fd, name), guest };
  }
  let child: number | undefined;
  try {
    child = openDirAt(srcFd, name);
    copyChildren(job, child, rel, target.fd, target.guest);
    fs.chmodSync(self(target.fd), diskDirMode(job.chmod ?? st.mode));
    fs.utimesSync(self(target.fd), st.atime, st.mtime);
    job.dest.own(target.guest);
  } finally {
    if (child !== undefined) fs.closeSync(child);
    fs.closeSync(target.fd);
  }
}

/** What a source entry that is neither file, folder nor link is called in a message. */
function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return "named pipe";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  return "special file";
}

/** Copies the file or link `srcName` of `srcFd` to `name` in `dst`, replacing what is there (not a folder). */
function copyEntry(
  job: CopyJob,
  srcFd: number,
  srcName: string,
  rel: string,
  st: fs.Stats,
  dst: OpenDir,
  name: string,
): void {
  // A socket cannot travel in a build context (Docker's context transfer leaves them out too).
  if (st.isSocket()) return;
  if (!st.isFile() && !st.isSymbolicLink()) {
    throw job.tree.fail(`"${rel}" in ${job.tree.label} is a ${kindOf(st)}, which burrow cannot copy`);
  }
  const guest = guestJoin(dst.guest, name);
  const there = lstatAt(dst.fd, name);
  if (there?.isDirectory() === true) throw job.tree.fail(`cannot replace the folder ${guest} with a file`);
  if (there !== undefined) fs.unlinkSync(at(dst.fd, name));
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(at(srcFd, srcName)), at(dst.fd, name));
    fs.lutimesSync(at(dst.fd, name), st.atime, st.mtime);
  } else {
    const from = openFileAt(srcFd, srcName);
    if (from === undefined)
      throw job.tree.fail(`"${rel}" in ${job.tree.label} changed while it was being copied`);
    try {
      fs.copyFileSync(self(from), at(dst.fd, name), COPYFILE_EXCL | COPYFILE_FICLONE);
    } finally {
      fs.closeSync(from);
    }
    const out = fs.openSync(at(dst.fd, name), O_RDONLY | O_NOFOLLOW);
    try {
      fs.fchmodSync(out, job.chmod ?? st.mode & 0o7777);
      fs.futimesSync(out, st.atime, st.mtime);
    } finally {
      fs.closeSync(out);
    }
  }
  job.dest.own(guest);
}

// Reading an overlay upper layer as the kernel does: whiteouts, opaque folders, and merging it onto a
// copy of its lower tree (for `export` and for a container moved to an engine without overlay).
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { parsePaxRecords } from "../image/tar-parser.js";
import { normalizeEntryPath } from "../image/safe-path.js";
import { findOnPath } from "../find-on-path.js";
import { RootPaths } from "../image/byte-path.js";
import { copyTree } from "../fs/copy-tree.js";

const BLOCK = 512;

/** Overlay's whiteout: a character device numbered 0/0 in the upper layer. */
export function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Runs `fn`, and where it fails for want of permission on one of the user's own entries, grants it and retries. */
export function withAccess<T>(p: string | Buffer, need: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EACCES") throw err;
    const st = fs.lstatSync(p);
    if (st.uid !== process.getuid?.()) throw err;
    fs.chmodSync(p, st.mode | need);
    try {
      return fn();
    } finally {
      fs.chmodSync(p, st.mode & 0o7777);
    }
  }
}

/** The names in a folder as byte strings (one character a byte, see byte-path.ts), sorted. */
export function listDirBytes(dir: string | Buffer): string[] {
  return withAccess(dir, 0o500, () => fs.readdirSync(dir, { encoding: "latin1" })).sort();
}

/** The names in a folder, sorted so that walks (and exports) are reproducible. */
export function listDir(dir: string): string[] {
  return withAccess(dir, 0o500, () => fs.readdirSync(dir)).sort();
}

/**
 * The upper folders overlay marks opaque (`user.overlay.opaque` or `trusted.overlay.opaque` = y), read
 * with GNU tar's xattr support (Node has no getxattr). Undefined when tar cannot read them.
 */
export function readOpaqueDirsSync(upper: string): Set<string> | undefined {
  const tar = findOnPath("tar");
  if (tar === undefined) return undefined;
  const dirs: string[] = [];
  // Names as byte strings (byte-path.ts), so that a folder whose name is not UTF-8 is found too.
  const paths = new RootPaths(upper);
  const walk = (rel: string): void => {
    for (const name of listDirBytes(paths.sys(rel))) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = fs.lstatSync(paths.sys(r));
      if (!st.isDirectory()) continue;
      dirs.push(r);
      walk(r);
    }
  };
  try {
    walk("");
  } finally {
    paths.invalidate();
  }
  const found = new Set<string>();
  if (dirs.length === 0) return found;
  let data: Buffer;
  try {
    data = execFileSync(
      tar,
      [
        "--format=posix",
        "--xattrs",
        "--xattrs-include=user.overlay.*",
        "--xattrs-include=trusted.overlay.*",
        "--no-recursion",
        "--null",
        "--verbatim-files-from",
        "-C",
        upper,
        "-cf",
        "-",
        "-T",
        "-",
      ],
      {
        input: Buffer.from(dirs.map((d) => `./${d}\0`).join(""), "latin1"),
        stdio: ["pipe", "pipe", "ignore"],
        maxBuffer: 1 << 30,
      },
    );
  } catch {
    return undefined;
  }
  // The archive holds directory headers only, each maybe after a PAX header carrying its xattrs.
  const pax = new Map<string, string>();
  for (let off = 0; off + BLOCK <= data.length;) {
    const h = data.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(h.toString("latin1", 124, 136).replace(/\0.*$/s, "").trim() || "0", 8);
    const type = String.fromCharCode(h[156]!);
    off += BLOCK;
    if (type === "x") {
      parsePaxRecords(data.subarray(off, off + size), pax);
    } else {
      // Byte strings, as parsePaxRecords gives the PAX path and as the export walk names folders.
      const name = pax.get("path") ?? h.toString("latin1", 0, 100).replace(/\0.*$/s, "");
      const value =
        pax.get("SCHILY.xattr.user.overlay.opaque") ?? pax.get("SCHILY.xattr.trusted.overlay.opaque");
      if (value === "y") found.add(normalizeEntryPath(name));
      pax.clear();
    }
    off += size + ((BLOCK - (size % BLOCK)) % BLOCK);
  }
  return found;
}

/**
 * Applies an overlay upper layer onto `root`, a private copy of its lower tree, so that `root` shows what
 * the mounted overlay showed: whiteouts delete, opaque folders hide the lower content, a changed type
 * replaces the entry, and the upper files win. `opaque` as readOpaqueDirsSync gives it.
 */
export function applyUpper(upper: string, root: string, opaque: Set<string>): void {
  const whiteouts: string[] = [];
  const walk = (rel: string): void => {
    for (const name of listDir(path.join(upper, rel))) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = fs.lstatSync(path.join(upper, r));
      const dst = path.join(root, r);
      const there = fs.lstatSync(dst, { throwIfNoEntry: false });
      if (isWhiteout(st)) whiteouts.push(r);
      // What the upper entry hides: all of the lower entry, but for a folder merged into a folder.
      const merged = st.isDirectory() && there?.isDirectory() === true && !opaque.has(r);
      if (there !== undefined && !merged) fs.rmSync(dst, { recursive: true, force: true });
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  // One copy of the whole upper layer; no destination is left that it could follow out of `root`.
  copyTree(upper, root, { into: true });
  for (const r of whiteouts) fs.rmSync(path.join(root, r), { force: true });
}

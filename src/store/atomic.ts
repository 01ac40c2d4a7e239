// Publishing files and directories atomically: write a temporary sibling, then rename it into place.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { randomHex } from "./random.js";

/** A unique temporary name next to `target` (same directory, so rename is atomic). */
export function tempSibling(target: string, tag = "tmp"): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tag}-${randomHex(6)}`);
}

/** Writes `data` to `file` so readers see the old content or the new, never a part. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempSibling(file);
  try {
    const fd = fs.openSync(tmp, "wx", mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Removes a directory tree by first renaming it aside, so it disappears from view at once. */
export function removeTreeAtomic(dir: string): void {
  const grave = tempSibling(dir, "rm");
  try {
    fs.renameSync(dir, grave);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  try {
    fs.rmSync(grave, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENAMETOOLONG") return removeDeepTree(grave);
    if (code !== "EACCES") throw err;
    makeRemovable(grave);
    fs.rmSync(grave, { recursive: true, force: true });
  }
}

/**
 * Removes a tree whose paths pass PATH_MAX (an image may hold one), which Node's rm cannot: GNU rm walks
 * it with descriptors. It never follows a symlink and stays on the tree's file system.
 */
function removeDeepTree(dir: string): void {
  execFileSync("rm", ["-rf", "--one-file-system", "--", dir], { stdio: ["ignore", "ignore", "pipe"] });
}

/** Gives the owner write permission on every directory so rm can descend (layers may ship 0555 dirs). */
export function makeRemovable(dir: string): void {
  const walk = (d: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(d);
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    if ((st.mode & 0o700) !== 0o700) fs.chmodSync(d, st.mode | 0o700);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
    }
  };
  walk(dir);
}

// The build cache's key for a COPY/ADD: a digest of what the step would copy (each selected source's paths,
// types, modes, sizes, contents and link targets; not times) and of where and how (dest, chown, chmod).
import fs from "node:fs";
import { createHash, type Hash } from "node:crypto";
import type { SourceTree } from "./source-tree.js";
import type { Selected } from "./select-sources.js";
import { at, lstatAt, openDirAt, openFileAt } from "./fd-path.js";

/** How much of a file is read at a time while hashing it. */
const CHUNK = 1024 * 1024;

/** The digest (sha256:hex) of the selected sources and the step's settings. */
export function digestSources(
  tree: SourceTree,
  selected: Selected[],
  settings: Record<string, unknown>,
): string {
  const hash = createHash("sha256");
  hash.update(`${JSON.stringify(settings)}\n`);
  const buf = Buffer.alloc(CHUNK);
  for (const s of selected) {
    hash.update(`source ${JSON.stringify(s.word)} ${JSON.stringify(s.name)}\n`);
    const parent = tree.openDir(s.stat.isDirectory() ? s.comps : s.comps.slice(0, -1));
    try {
      if (s.stat.isDirectory()) hashFolder(tree, hash, buf, parent, s.comps.join("/"), "");
      else hashEntry(tree, hash, buf, parent, s.comps.at(-1)!, s.stat, "");
    } finally {
      fs.closeSync(parent);
    }
  }
  return `sha256:${hash.digest("hex")}`;
}

/** Hashes the entries of the open folder `fd` (tree path `rel`, shown as `shown` below the source). */
function hashFolder(tree: SourceTree, hash: Hash, buf: Buffer, fd: number, rel: string, shown: string): void {
  for (const name of tree.list(fd, rel)) {
    const st = lstatAt(fd, name);
    if (st === undefined) continue;
    const childShown = shown === "" ? name : `${shown}/${name}`;
    if (st.isDirectory()) {
      hash.update(`${JSON.stringify(childShown)} dir ${(st.mode & 0o7777).toString(8)}\n`);
      const child = openDirAt(fd, name);
      try {
        hashFolder(tree, hash, buf, child, rel === "" ? name : `${rel}/${name}`, childShown);
      } finally {
        fs.closeSync(child);
      }
    } else hashEntry(tree, hash, buf, fd, name, st, childShown);
  }
}

/** Hashes one entry that is not a folder: its type, mode, size, and content or link target. */
function hashEntry(
  tree: SourceTree,
  hash: Hash,
  buf: Buffer,
  dir: number,
  name: string,
  st: fs.Stats,
  shown: string,
): void {
  const mode = (st.mode & 0o7777).toString(8);
  if (st.isSymbolicLink()) {
    hash.update(
      `${JSON.stringify(shown)} symlink ${mode} ${JSON.stringify(fs.readlinkSync(at(dir, name)))}\n`,
    );
    return;
  }
  if (!st.isFile()) {
    hash.update(`${JSON.stringify(shown)} other ${mode} ${st.mode >>> 12}\n`);
    return;
  }
  const fd = openFileAt(dir, name);
  if (fd === undefined)
    throw tree.fail(`"${shown || name}" in ${tree.label} changed while it was being read`);
  try {
    const size = fs.fstatSync(fd).size;
    hash.update(`${JSON.stringify(shown)} file ${mode} ${size}\n`);
    let done = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      done += n;
    }
    if (done !== size) throw tree.fail(`"${shown || name}" in ${tree.label} changed while it was being read`);
  } finally {
    fs.closeSync(fd);
  }
}

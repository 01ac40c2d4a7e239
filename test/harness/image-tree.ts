// The merged file tree of an image: its layer tars applied in order, whiteouts and opaque folders
// included, as a map from path to what a comparison needs (type, mode, size, content hash, link, owner).
import fs from "node:fs";
import { createHash } from "node:crypto";
import { createGunzip } from "node:zlib";
import { Parser } from "tar";
import type { ReadEntry } from "tar";
import { clearStrayLinknames } from "./tar-stray-links.js";

/** The kinds of entries a merged tree holds (a hard link is merged as the file it links to). */
export type TreeEntryType = "file" | "dir" | "symlink" | "char" | "block" | "fifo";

/** One path of a merged tree. */
export interface TreeEntry {
  type: TreeEntryType;
  /** Permission bits with setuid, setgid and sticky (mode & 0o7777). */
  mode: number;
  /** Content size (files; 0 otherwise). */
  size: number;
  /** sha256 of the content, hex (files only). */
  sha256?: string;
  /** Symlink target. */
  target?: string;
  uid: number;
  gid: number;
  /** Index of the layer that last wrote this path (0 is the bottom layer). */
  layer: number;
}

/** A merged tree: path (no leading `/` or `./`, no trailing `/`) to entry. */
export type Tree = Map<string, TreeEntry>;

/** One entry as read from a layer tar, before merging. */
export interface LayerEntry {
  path: string;
  type: TreeEntryType | "hardlink";
  mode: number;
  size: number;
  sha256?: string;
  /** Symlink target, or the hard link's target path (normalised like `path`). */
  linkname?: string;
  uid: number;
  gid: number;
}

/** A tar path as a tree key: no `./` or `/` in front, no trailing `/`, no `.` parts. */
export function treePath(p: string): string {
  return p
    .split("/")
    .filter((part) => part !== "" && part !== ".")
    .join("/");
}

const TYPES: Partial<Record<ReadEntry["type"], LayerEntry["type"]>> = {
  File: "file",
  OldFile: "file",
  ContiguousFile: "file",
  Directory: "dir",
  SymbolicLink: "symlink",
  Link: "hardlink",
  CharacterDevice: "char",
  BlockDevice: "block",
  FIFO: "fifo",
};

/** True when the file starts with gzip's magic bytes. */
function isGzip(file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(2);
    return fs.readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a layer blob (plain tar or gzip) into its entries, content hashed. */
export function readLayer(file: string): Promise<LayerEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: LayerEntry[] = [];
    // Not strict: a warning rejects below, except node-tar's TAR_BAD_ARCHIVE for a tar of nothing but
    // its end blocks, which Buildah writes for a step that changed no file.
    const parser = new Parser({ strict: false });
    parser.on("warn", (code: string, message: string) => {
      if (code === "TAR_BAD_ARCHIVE" && entries.length === 0) return;
      reject(new Error(`${file}: ${code}: ${message}`));
    });
    parser.on("entry", (e: ReadEntry) => {
      const type = TYPES[e.type];
      if (!type) {
        reject(new Error(`${file}: ${e.path}: tar entry type ${e.type} is not expected in a layer`));
        e.resume();
        return;
      }
      const entry: LayerEntry = {
        path: treePath(e.path),
        type,
        mode: (e.mode ?? 0) & 0o7777,
        size: type === "file" ? e.size : 0,
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
      };
      if (type === "symlink" || type === "hardlink") {
        entry.linkname = type === "hardlink" ? treePath(e.linkpath ?? "") : (e.linkpath ?? "");
      }
      entries.push(entry);
      if (type === "file") {
        const hash = createHash("sha256");
        e.on("data", (chunk: Buffer) => hash.update(chunk));
        e.on("end", () => {
          entry.sha256 = hash.digest("hex");
        });
      } else e.resume();
    });
    parser.on("error", (err: Error) => reject(new Error(`${file}: ${err.message}`)));
    parser.on("end", () => resolve(entries));
    const fixer = clearStrayLinknames().on("error", reject);
    const source = fs.createReadStream(file).on("error", reject);
    const tar = isGzip(file) ? source.pipe(createGunzip().on("error", reject)) : source;
    tar.pipe(fixer).pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/** Removes `p` and everything under it from the tree. */
function removeSubtree(tree: Tree, p: string): void {
  tree.delete(p);
  removeChildren(tree, p);
}

/** Removes everything under folder `p` (the folder itself stays). */
function removeChildren(tree: Tree, p: string): void {
  const prefix = p === "" ? "" : `${p}/`;
  for (const key of [...tree.keys()]) if (key.startsWith(prefix) && key !== p) tree.delete(key);
}

/** The folder part and the last name of a tree path. */
function split(p: string): [string, string] {
  const i = p.lastIndexOf("/");
  return i < 0 ? ["", p] : [p.slice(0, i), p.slice(i + 1)];
}

/**
 * Applies one layer's entries over `tree` as the OCI image spec says: first its whiteouts against the
 * layers below (`.wh.NAME` removes NAME and what is under it; `.wh..wh..opq` empties its folder), then its
 * entries in order (a non-folder replacing a folder removes what was under it; a hard link becomes a copy
 * of the entry it names).
 */
export function applyLayer(tree: Tree, entries: readonly LayerEntry[], layer: number): void {
  for (const e of entries) {
    const [dir, name] = split(e.path);
    if (name === ".wh..wh..opq") removeChildren(tree, dir);
    else if (name.startsWith(".wh.")) removeSubtree(tree, dir ? `${dir}/${name.slice(4)}` : name.slice(4));
  }
  for (const e of entries) {
    // Whiteouts, and what AUFS keeps under .wh..wh.plnk, are not files of the image.
    if (e.path === "" || e.path.split("/").some((part) => part.startsWith(".wh."))) continue;
    const old = tree.get(e.path);
    if (e.type === "hardlink") {
      const target = tree.get(e.linkname ?? "");
      if (!target)
        throw new Error(`layer ${layer}: hard link ${e.path} names ${e.linkname}, which is not there`);
      tree.set(e.path, { ...target, layer });
      continue;
    }
    if (old?.type === "dir" && e.type !== "dir") removeChildren(tree, e.path);
    const entry: TreeEntry = { type: e.type, mode: e.mode, size: e.size, uid: e.uid, gid: e.gid, layer };
    if (e.sha256 !== undefined) entry.sha256 = e.sha256;
    if (e.type === "symlink") entry.target = e.linkname ?? "";
    tree.set(e.path, entry);
  }
}

/** The merged tree of layer blobs, bottom first. */
export async function mergeLayers(files: readonly string[]): Promise<Tree> {
  const tree: Tree = new Map();
  for (const [i, file] of files.entries()) applyLayer(tree, await readLayer(file), i);
  return tree;
}

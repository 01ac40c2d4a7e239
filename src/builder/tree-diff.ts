// What a build step changed in a stage's root: a snapshot of every entry's inode and change time before
// the step, compared with the tree after it. Any write, chmod, chown, rename or new link moves an inode's
// change time (ctime), which nobody can set back, so an unchanged signature means an unchanged entry.
// A folder is compared by mode and modification time instead: an entry made and removed again in it (a
// mount point of the run) leaves it as it was once its time is put back (src/builder/build.ts).
import fs from "node:fs";
import { RootPaths } from "../image/byte-path.js";
import { listDirBytes } from "../store/overlay-upper.js";

/** Each entry's signature by its root-relative byte path (no leading slash); the root itself is left out. */
export type TreeSnapshot = Map<string, string>;

/** What a step did to one path, in the order a layer lists them (parents before children). */
export type TreeChange =
  /** An entry to write as it now is (new or changed, or a folder on the way to one). */
  | { kind: "entry"; rel: string; stat: fs.BigIntStats }
  /** A folder made anew: what the layers below held there is hidden (`.wh..wh..opq`). */
  | { kind: "opaque"; rel: string }
  /** A path removed (`.wh.NAME`). */
  | { kind: "whiteout"; rel: string };

/** The signature of one entry: inode, change time in nanoseconds (a folder: mode and mtime), and its kind. */
function signature(st: fs.BigIntStats): string {
  if (st.isDirectory()) return `${st.ino}:${st.mode}:${st.mtimeNs}:d`;
  return `${st.ino}:${st.ctimeNs}:-`;
}

function inode(sig: string): string {
  return sig.slice(0, sig.indexOf(":"));
}

/** Walks `root` (links not followed) and records every entry's signature. */
export function snapshotTree(root: string): TreeSnapshot {
  const paths = new RootPaths(root);
  const snapshot: TreeSnapshot = new Map();
  const walk = (rel: string): void => {
    for (const name of listDirBytes(paths.sys(rel))) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = fs.lstatSync(paths.sys(r), { bigint: true });
      snapshot.set(r, signature(st));
      if (st.isDirectory()) walk(r);
    }
  };
  try {
    walk("");
  } finally {
    paths.invalidate();
  }
  return snapshot;
}

/**
 * The changes from `before` to the tree now at `root`, depth first with names sorted: each new or changed
 * entry with the folders above it, a folder made anew marked opaque, and a whiteout for each removed path
 * whose parent still stands (a removed folder's own entries need none). `after`, when given, is filled
 * with the tree's snapshot as it is now (the next step's `before`, without a walk of its own).
 */
export function diffTree(root: string, before: TreeSnapshot, after?: TreeSnapshot): TreeChange[] {
  const paths = new RootPaths(root);
  const children = childrenByFolder(before);

  /** The changes under `rel` (a folder now), or an empty list when nothing under it changed. */
  const walk = (rel: string, opaque: boolean): TreeChange[] => {
    const out: TreeChange[] = [];
    const names = listDirBytes(paths.sys(rel));
    const here = new Set(names);
    const gone = opaque ? [] : (children.get(rel) ?? []).filter((n) => !here.has(n));
    for (const name of [...names, ...gone].sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (!here.has(name)) {
        out.push({ kind: "whiteout", rel: r });
        continue;
      }
      const st = fs.lstatSync(paths.sys(r), { bigint: true });
      const now = signature(st);
      after?.set(r, now);
      const was = before.get(r);
      const changed = was !== now;
      if (!st.isDirectory()) {
        if (changed) out.push({ kind: "entry", rel: r, stat: st });
        continue;
      }
      // A folder whose inode is new (or that was no folder) starts empty over what was below it.
      const anew = was !== undefined && (inode(was) !== String(st.ino) || !was.endsWith(":d"));
      const inner = walk(r, anew || was === undefined);
      if (changed || inner.length > 0 || anew) {
        out.push({ kind: "entry", rel: r, stat: st });
        if (anew) out.push({ kind: "opaque", rel: r });
        out.push(...inner);
      }
    }
    return out;
  };
  try {
    return walk("", false);
  } finally {
    paths.invalidate();
  }
}

/** The names `before` held directly under each folder. */
function childrenByFolder(before: TreeSnapshot): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const key of before.keys()) {
    const slash = key.lastIndexOf("/");
    const parent = slash < 0 ? "" : key.slice(0, slash);
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [key.slice(slash + 1)]);
    else list.push(key.slice(slash + 1));
  }
  return children;
}

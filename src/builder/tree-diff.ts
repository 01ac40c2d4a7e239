// What a build step changed in a stage's root: a snapshot of every entry's inode and change time before
// the step, compared with the tree after it. Any write, chmod, chown, rename or new link moves an inode's
// change time (ctime), which nobody can set back, so an unchanged signature means an unchanged entry.
// A folder is compared by mode and modification time instead: an entry made and removed again in it (a
// mount point of the run) leaves it as it was once its time is put back (src/builder/build.ts).
// On an overlay root (src/builder/overlay-root.ts) a folder the upper does not hold is the lower's, which
// never changes: the walks go only where the upper has something, and the lower is walked once.
import fs from "node:fs";
import { RootPaths } from "../image/byte-path.js";
import { listDirBytes } from "../store/overlay-upper.js";

/** An overlay root's layers: the read-only lower (a stored rootfs) and the upper its writes go to. */
export interface RootLayers {
  lower: string;
  upper: string;
}

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
 * with the tree's snapshot as it is now (the next step's `before`, without a walk of its own). `layers`:
 * the root's overlay layers, where it is an overlay root; only the folders its upper holds are walked.
 */
export function diffTree(
  root: string,
  before: TreeSnapshot,
  after?: TreeSnapshot,
  layers?: RootLayers,
): TreeChange[] {
  const paths = new RootPaths(root);
  const upper = layers === undefined ? undefined : new RootPaths(layers.upper);
  const children = childrenByFolder(before);
  // On an overlay root the folders not walked keep their entries: `after` starts as `before`.
  if (upper !== undefined && after !== undefined) for (const [k, v] of before) after.set(k, v);
  /** Drops what `before` held under `rel` from `after` (a folder gone, replaced, or made anew). */
  const dropUnder = (rel: string): void => {
    if (upper === undefined || after === undefined) return;
    for (const n of children.get(rel) ?? []) {
      const r = rel === "" ? n : `${rel}/${n}`;
      after.delete(r);
      dropUnder(r);
    }
  };

  /** The changes under `rel` (a folder now), or an empty list when nothing under it changed. */
  const walk = (rel: string, opaque: boolean): TreeChange[] => {
    const out: TreeChange[] = [];
    // A folder the upper does not hold is as the lower has it, and so it was before the step.
    if (
      upper !== undefined &&
      rel !== "" &&
      !fs.lstatSync(upper.sys(rel), { throwIfNoEntry: false })?.isDirectory()
    )
      return out;
    const names = listDirBytes(paths.sys(rel));
    const here = new Set(names);
    const gone = opaque ? [] : (children.get(rel) ?? []).filter((n) => !here.has(n));
    for (const name of [...names, ...gone].sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (!here.has(name)) {
        out.push({ kind: "whiteout", rel: r });
        after?.delete(r);
        dropUnder(r);
        continue;
      }
      const st = fs.lstatSync(paths.sys(r), { bigint: true });
      const now = signature(st);
      after?.set(r, now);
      const was = before.get(r);
      const changed = was !== now;
      if (!st.isDirectory()) {
        if (changed) out.push({ kind: "entry", rel: r, stat: st });
        if (was?.endsWith(":d")) dropUnder(r);
        continue;
      }
      // A folder whose inode is new (or that was no folder) starts empty over what was below it.
      const anew = was !== undefined && (inode(was) !== String(st.ino) || !was.endsWith(":d"));
      if (anew) dropUnder(r);
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
    upper?.invalidate();
  }
}

/** The root's snapshot as it is now; on an overlay root, the lower's (walked once) brought up to date from the upper. */
export function snapshotRoot(root: string, layers?: RootLayers): TreeSnapshot {
  if (layers === undefined) return snapshotTree(root);
  let lower = lowerSnapshots.get(layers.lower);
  if (lower === undefined) {
    lower = snapshotTree(layers.lower);
    lowerSnapshots.set(layers.lower, lower);
  }
  const now: TreeSnapshot = new Map();
  diffTree(root, lower, now, layers);
  return now;
}

/** Snapshots of the stored rootfs folders under overlay roots, by path (a stored image never changes). */
const lowerSnapshots = new Map<string, TreeSnapshot>();

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

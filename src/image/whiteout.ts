// OCI whiteouts: `.wh.NAME` hides NAME of lower layers, `.wh..wh..opq` hides a directory's lower children.
import fs from "node:fs";
import { UnsafePathError } from "./safe-path.js";
import { PathHashSet } from "./path-hash-set.js";
import { displayPath, removeTree, type RootPaths } from "./byte-path.js";

/** The prefix of every whiteout name. */
export const WHITEOUT_PREFIX = ".wh.";
/** The opaque-directory marker. */
export const OPAQUE_MARKER = ".wh..wh..opq";
/** The prefix of AUFS metadata entries (`.wh..wh.plnk`, ...), which carry nothing for a flattened rootfs. */
export const WHITEOUT_META_PREFIX = ".wh..wh.";

/** What a basename means as a whiteout. */
export type Whiteout = { kind: "opaque" } | { kind: "remove"; name: string } | { kind: "meta" };

/** Classifies a member's basename; undefined when it is an ordinary name. */
export function classifyWhiteout(base: string): Whiteout | undefined {
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (base === OPAQUE_MARKER) return { kind: "opaque" };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: "meta" };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === "..") {
    throw new UnsafePathError(`whiteout "${displayPath(base)}" names no file of its directory`);
  }
  return { kind: "remove", name };
}

/** True when a normalised path has a `.wh.`-prefixed directory component (such entries are invalid). */
export function underWhiteoutName(rel: string): boolean {
  return rel.startsWith(WHITEOUT_PREFIX) || rel.includes("/" + WHITEOUT_PREFIX);
}

/**
 * The real root-relative paths one layer has created, with all their ancestors, so that the layer's own
 * whiteouts (which apply to lower layers only) spare them whatever the member order in the tar. Kept as
 * hashes to bound memory on huge layers: a collision could only make a whiteout spare a lower file.
 */
export class LayerAdditions {
  private readonly paths = new PathHashSet();

  /** Records `realRel` and its ancestors. */
  add(realRel: string): void {
    let p = realRel;
    while (p !== "" && this.paths.add(p)) {
      const i = p.lastIndexOf("/");
      p = i < 0 ? "" : p.slice(0, i);
    }
  }

  /** True when this layer created `realRel` or something below it. */
  has(realRel: string): boolean {
    return this.paths.has(realRel);
  }
}

/**
 * Removes what lower layers left at `realRel` (a real root-relative byte path whose parent is a real directory):
 * all of it when this layer added nothing there, else the lower-layer children of a directory, recursively.
 * Never follows symlinks. Calls `onRemoved` with each removed path and whether it was a directory or symlink.
 */
export function removeLower(
  paths: RootPaths,
  realRel: string,
  additions: LayerAdditions,
  onRemoved: (realRel: string, dirOrLink: boolean) => void,
): void {
  const st = fs.lstatSync(paths.sys(realRel), { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!additions.has(realRel)) {
    const dirOrLink = st.isDirectory() || st.isSymbolicLink();
    if (st.isDirectory()) removeTree(paths, realRel);
    else fs.unlinkSync(paths.sys(realRel));
    onRemoved(realRel, dirOrLink);
    return;
  }
  if (st.isDirectory()) removeLowerChildren(paths, realRel, additions, onRemoved);
}

/** Applies `removeLower` to every child of the real directory `realRel` ("" for the root). */
export function removeLowerChildren(
  paths: RootPaths,
  realRel: string,
  additions: LayerAdditions,
  onRemoved: (realRel: string, dirOrLink: boolean) => void,
): void {
  for (const child of fs.readdirSync(paths.sys(realRel), { encoding: "latin1" })) {
    removeLower(paths, realRel === "" ? child : realRel + "/" + child, additions, onRemoved);
  }
}

// Stage roots as kernel overlays, in the build's user and mount namespace (src/builder/namespace.ts): the
// stored image's rootfs is the read-only lower layer and the stage's writes go to an upper folder of its
// own, so a stage starts without copying the image. The merged view behaves as a copy would for the
// steps and their diffs (overlay keeps a file's or folder's inode number when it copies it up, and a
// folder made anew gets a new one: src/builder/tree-diff.ts). Where a mount fails, the caller copies.
import fs from "node:fs";
import path from "node:path";
import { execFile, execFileSync } from "node:child_process";
import { copyFailure, copyTree } from "../fs/copy-tree.js";
import { applyUpper, readOpaqueDirsSync } from "../store/overlay-upper.js";
import { ownAll } from "./layer-owners.js";
import type { RootLayers } from "./tree-diff.js";

/** The lower folder of each overlay root this process mounted, by its mount point. */
const lowers = new Map<string, string>();

/** Whether overlay's "volatile" option is worth trying (until a mount without it worked where it failed). */
let volatile = true;

/** Characters overlay's mount options cannot take in a path without escaping. */
const UNSAFE = /[,:\\\s]/;

/**
 * Mounts an overlay of `lower` (read-only) at `dir` (made), with its upper and work folders beside it;
 * resolves to `dir`, or to undefined (nothing mounted, nothing left) where it cannot be mounted here.
 */
export async function mountOverlayRoot(lower: string, dir: string): Promise<string | undefined> {
  if (UNSAFE.test(lower) || UNSAFE.test(dir)) return undefined;
  const upper = `${dir}.upper`;
  const work = `${dir}.work`;
  for (const d of [dir, upper, work]) fs.mkdirSync(d, { mode: 0o755 });
  const options = `lowerdir=${lower},upperdir=${upper},workdir=${work},userxattr`;
  const mount = (extra: string) =>
    new Promise<boolean>((resolve) => {
      execFile("mount", ["-t", "overlay", "overlay", "-o", options + extra, dir], (err) =>
        resolve(err === null),
      );
    });
  // "volatile" (Linux 5.10) skips the syncs of the upper's file system, unmounting's included: a stage root
  // is thrown away after the build, and its unmount otherwise waits for every dirty page on that disk.
  let mounted = volatile && (await mount(",volatile"));
  if (!mounted && (mounted = await mount(""))) volatile = false;
  if (mounted) {
    fs.chmodSync(dir, fs.statSync(lower).mode & 0o7777);
    lowers.set(dir, lower);
    return dir;
  }
  for (const d of [dir, upper, work]) fs.rmSync(d, { recursive: true, force: true });
  return undefined;
}

/** Whether `dir` is an overlay root this process mounted. */
export function isOverlayRoot(dir: string): boolean {
  return lowers.has(dir);
}

/** The lower and upper folders of the overlay root `dir`; undefined where it is no overlay root. */
export function overlayLayers(dir: string): RootLayers | undefined {
  const lower = lowers.get(dir);
  return lower === undefined ? undefined : { lower, upper: `${dir}.upper` };
}

/**
 * Makes the tree the overlay root `dir` shows in the empty folder `into`: the lower's files as hard links
 * (stored images never change, so two images may share a file), with the upper layer applied over them
 * (src/store/overlay-upper.ts: what it changed is unlinked and written anew, never written through a link).
 * Copies the merged view instead where the upper's opaque marks cannot be read. Everything in it is given to
 * the user (the namespace's root), as a pulled image's files are.
 */
export function publishOverlayRoot(dir: string, into: string): void {
  const lower = lowers.get(dir)!;
  const upper = `${dir}.upper`;
  /** The merged view copied, and given to the user. */
  const copyMerged = (): void => {
    copyTree(dir, into, { into: true, label: "the built image" });
    ownAll(into);
  };
  const opaque = readOpaqueDirsSync(upper);
  if (opaque === undefined) return copyMerged();
  // The lower's files are the user's already; what the steps made is given to the user in the upper.
  ownAll(upper);
  try {
    execFileSync("cp", ["-al", `${lower}/.`, `${into}/`], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    // A base on another file system (a SquashFS image unpacked on this node) cannot be linked: copied.
    if (!/cross-device/i.test(String((err as { stderr?: unknown }).stderr)))
      throw copyFailure(lower, into, { label: "the base image" }, err);
    fs.rmSync(into, { recursive: true, force: true });
    fs.mkdirSync(into, { mode: 0o755 });
    return copyMerged();
  }
  applyUpper(upper, into, opaque);
  fs.chmodSync(into, fs.statSync(dir).mode & 0o7777);
}

/** Unmounts the overlays under `work` (before it is removed); best effort, the namespace ends with us. */
export function unmountOverlays(work: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(work);
  } catch {
    return;
  }
  for (const n of names) {
    if (!fs.existsSync(path.join(work, `${n}.upper`))) continue;
    try {
      execFileSync("umount", [path.join(work, n)], { stdio: "ignore" });
    } catch {
      // Not mounted (any more).
    }
  }
}

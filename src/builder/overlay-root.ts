// Stage roots as kernel overlays, in the build's user and mount namespace (src/builder/namespace.ts): the
// stored image's rootfs is the read-only lower layer and the stage's writes go to an upper folder of its
// own, so a stage starts without copying the image. The merged view behaves as a copy would for the
// steps and their diffs (overlay keeps a file's or folder's inode number when it copies it up, and a
// folder made anew gets a new one: src/builder/tree-diff.ts). Where a mount fails, the caller copies.
import fs from "node:fs";
import path from "node:path";
import { execFile, execFileSync } from "node:child_process";

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
  const mounted = await new Promise<boolean>((resolve) => {
    execFile("mount", ["-t", "overlay", "overlay", "-o", options, dir], (err) => resolve(err === null));
  });
  if (mounted) {
    fs.chmodSync(dir, fs.statSync(lower).mode & 0o7777);
    return dir;
  }
  for (const d of [dir, upper, work]) fs.rmSync(d, { recursive: true, force: true });
  return undefined;
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

// Whether a stored rootfs is still what its layers make: `verify` flattens them afresh beside it and compares
// the two trees entry by entry (type, permission bits, link target, size and content), never following links.
import fs from "node:fs";
import path from "node:path";
import type { Store, ImageRecord } from "../store/store.js";
import { StagedImage } from "../store/staging.js";
import { flattenLayers } from "./flatten.js";

/** At most this many differences are listed one by one; the rest are counted. */
const MAX_LISTED = 10;

/** What one tree entry is, as far as the comparison goes. */
interface EntryFacts {
  kind: "file" | "dir" | "symlink" | "other";
  mode: number;
  size: number;
  link?: string;
}

function facts(abs: string): EntryFacts | undefined {
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  const kind = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
  return {
    kind,
    mode: st.mode & 0o7777,
    size: kind === "file" ? st.size : 0,
    ...(kind === "symlink" ? { link: fs.readlinkSync(abs) } : {}),
  };
}

/** Whether two regular files hold the same bytes; undefined when one cannot be read (its mode says why). */
function sameContent(a: string, b: string): boolean | undefined {
  let fa: number | undefined;
  let fb: number | undefined;
  try {
    fa = fs.openSync(a, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    fb = fs.openSync(b, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const ba = Buffer.allocUnsafe(1 << 20);
    const bb = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const na = fs.readSync(fa, ba, 0, ba.length, null);
      let nb = 0;
      while (nb < na) {
        const n = fs.readSync(fb, bb, nb, na - nb, null);
        if (n === 0) break;
        nb += n;
      }
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return fs.readSync(fb, bb, 0, 1, null) === 0;
    }
  } catch {
    return undefined;
  } finally {
    if (fa !== undefined) fs.closeSync(fa);
    if (fb !== undefined) fs.closeSync(fb);
  }
}

function listDir(abs: string): string[] {
  try {
    return fs.readdirSync(abs);
  } catch {
    return [];
  }
}

/** How `rel` in `root` differs from the same entry in `want` (undefined: it does not). */
function entryDifference(root: string, want: string, rel: string): string | undefined {
  const got = facts(path.join(root, rel));
  const exp = facts(path.join(want, rel));
  if (got === undefined)
    return exp === undefined ? undefined : `/${rel} is missing (the image's layers have it)`;
  if (exp === undefined) return `/${rel} is not in the image's layers`;
  if (got.kind !== exp.kind)
    return `/${rel} differs from the image's layers (a ${got.kind}, not a ${exp.kind})`;
  if (got.mode !== exp.mode)
    return `/${rel} differs from the image's layers (mode ${got.mode.toString(8)}, not ${exp.mode.toString(8)})`;
  if (got.link !== exp.link) return `/${rel} differs from the image's layers (its link target)`;
  if (got.kind !== "file") return undefined;
  if (got.size !== exp.size) return `/${rel} differs from the image's layers (its size)`;
  return sameContent(path.join(root, rel), path.join(want, rel)) === false
    ? `/${rel} differs from the image's layers (its content)`
    : undefined;
}

/** Lists where the trees differ, walking both side by side without following links. */
export function compareTrees(root: string, want: string): string[] {
  const out: string[] = [];
  let more = 0;
  const stack = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const names = new Set([...listDir(path.join(root, rel)), ...listDir(path.join(want, rel))]);
    for (const name of [...names].sort().reverse()) {
      const child = rel === "" ? name : `${rel}/${name}`;
      const diff = entryDifference(root, want, child);
      if (diff !== undefined) {
        if (out.length < MAX_LISTED) out.push(`rootfs: ${diff}`);
        else more++;
        continue;
      }
      if (facts(path.join(want, child))?.kind === "dir") stack.push(child);
    }
  }
  if (more > 0) out.push(`rootfs: ${more} more differences`);
  return out;
}

/**
 * Flattens an image's layers (their blobs already checked) into a scratch folder beside the stored images,
 * staged as a pull stages its own (src/store/staging.ts) so a killed verify is cleaned up by the next pull, and compares the stored
 * rootfs with it. Returns the differences, or the reason the layers could not be flattened.
 */
export async function rootfsDifferences(store: Store, image: ImageRecord): Promise<string[]> {
  const scratch = new StagedImage(store, image.id);
  try {
    try {
      await flattenLayers(
        scratch.rootfs,
        image.layers.map((l, i) => ({
          digest: l.digest,
          mediaType: l.mediaType,
          file: store.blobPath(l.digest),
          size: l.size,
          diffId: image.diffIds?.[i],
        })),
        { warn: () => undefined },
      );
    } catch (err) {
      return [`rootfs: its layers cannot be flattened again to compare: ${(err as Error).message}`];
    }
    return compareTrees(store.rootfs(image.id), scratch.rootfs);
  } finally {
    scratch.discard();
  }
}

// In the build's namespace of subordinate ids (src/builder/namespace.ts), a stage's root holds files with
// the owners its layers give them: a stored rootfs belongs to the user (as pulls make it), so once the root
// is copied or a layer applied, the owners the layers record (other than root) are given back, read from
// the layers' tar headers. Paths are resolved inside the root, links on the way refused.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../store/atomic.js";
import { TarParser } from "../image/tar-parser.js";
import type { TarEntry } from "../image/tar-parser.js";
import { decompressFile, readHead, sniffCompression } from "../image/decompress.js";
import { classifyWhiteout } from "../image/whiteout.js";
import { fromByteString } from "../image/byte-path.js";
import { InRoot, OutsideRootError } from "../fs/in-root.js";

/** A layer blob on disk. */
export interface LayerFile {
  file: string;
}

/** Collects the owners (other than root) tar entries give, layer after layer, whiteouts applied. */
export class OwnerCollector {
  /** Owners by clean root-relative path. */
  readonly owners = new Map<string, [number, number]>();

  /** One entry of a layer, in order. */
  entry(e: TarEntry): void {
    const owners = this.owners;
    const rel = path.posix.normalize(fromByteString(e.path)).replace(/^(\.?\/)+|\/$/g, "");
    if (rel === "" || rel === "." || rel.startsWith("../")) return;
    const base = path.posix.basename(rel);
    const dir = path.posix.dirname(rel);
    const whiteout = classifyWhiteout(base);
    if (whiteout !== undefined) {
      if (whiteout.kind === "meta") return;
      const gone = whiteout.kind === "opaque" ? dir : dir === "." ? whiteout.name : `${dir}/${whiteout.name}`;
      for (const key of owners.keys())
        if (key.startsWith(`${gone}/`) || (whiteout.kind === "remove" && key === gone)) owners.delete(key);
      return;
    }
    if (e.uid === 0 && e.gid === 0) owners.delete(rel);
    else owners.set(rel, [e.uid, e.gid]);
  }
}

/** An owners file as writeOwners wrote it, or undefined when there is none (or it cannot be read). */
function readOwners(file: string): Map<string, [number, number]> | undefined {
  try {
    return new Map(JSON.parse(fs.readFileSync(file, "utf8")) as [string, [number, number]][]);
  } catch {
    return undefined;
  }
}

/** Writes `owners` to `file` (atomically). */
export function writeOwners(file: string, owners: ReadonlyMap<string, [number, number]>): void {
  writeFileAtomic(file, JSON.stringify([...owners]));
}

/** The name of the file an image folder keeps its layers' owners in (written by pull, read by build). */
export const OWNERS_FILE = "owners.json";

/** Owners other than root by clean root-relative path, after the layers in order (whiteouts applied). */
export async function layerOwners(layers: readonly LayerFile[]): Promise<Map<string, [number, number]>> {
  const collector = new OwnerCollector();
  for (const layer of layers) {
    const parser = new TarParser({ entry: (e) => collector.entry(e), data() {}, entryEnd() {} });
    const compression = sniffCompression(readHead(layer.file, 8));
    for await (const chunk of decompressFile(layer.file, compression)) parser.write(chunk);
    parser.end();
  }
  return collector.owners;
}

/**
 * The owners an image's layers give its files (other than root), kept in the build cache's folder once
 * read (an image's layers never change, and reading them costs a decompression of every layer).
 */
export async function imageOwners(
  cacheDir: string,
  id: string,
  layers: readonly LayerFile[],
  imageDir?: string,
): Promise<Map<string, [number, number]>> {
  // Kept by the pull that flattened the image (not by an older pull, a load or an import), else by a build.
  const kept = imageDir !== undefined ? readOwners(path.join(imageDir, OWNERS_FILE)) : undefined;
  if (kept !== undefined) return kept;
  const file = path.join(cacheDir, `owners-${id}.json`);
  const cached = readOwners(file);
  if (cached !== undefined) return cached;
  const owners = await layerOwners(layers);
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  writeOwners(file, owners);
  return owners;
}

/** Gives the entries under `root` the owners `owners` names (missing ones and ones behind links skipped). */
export function applyOwners(root: string, owners: ReadonlyMap<string, [number, number]>): void {
  if (owners.size === 0) return;
  InRoot.with(root, (r) => {
    for (const [rel, [uid, gid]] of owners) {
      try {
        r.lchown(`/${rel}`, uid, gid);
      } catch (err) {
        // A path that a later layer turned into a link, or that is gone: nothing of it to own.
        if (!(err instanceof OutsideRootError) && (err as NodeJS.ErrnoException).code === undefined)
          throw err;
      }
    }
  });
}

/**
 * Gives every entry under `root` to the namespace's root (the user outside), keeping the set-id bits that
 * chown clears; the layers keep the owners the build gave.
 */
export function ownAll(root: string): void {
  const walk = (dir: Buffer): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, encoding: "buffer" })) {
      const p = Buffer.concat([dir, Buffer.from("/"), entry.name]);
      const st = fs.lstatSync(p);
      if (st.uid !== 0 || st.gid !== 0) {
        fs.lchownSync(p, 0, 0);
        if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) fs.chmodSync(p, st.mode & 0o7777);
      }
      if (st.isDirectory()) walk(p);
    }
  };
  walk(Buffer.from(root));
}

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

/** Owners other than root by clean root-relative path, after the layers in order (whiteouts applied). */
export async function layerOwners(layers: readonly LayerFile[]): Promise<Map<string, [number, number]>> {
  const owners = new Map<string, [number, number]>();
  for (const layer of layers) {
    const parser = new TarParser({
      entry(e: TarEntry) {
        const rel = path.posix.normalize(fromByteString(e.path)).replace(/^(\.?\/)+|\/$/g, "");
        if (rel === "" || rel === "." || rel.startsWith("../")) return;
        const base = path.posix.basename(rel);
        const dir = path.posix.dirname(rel);
        const whiteout = classifyWhiteout(base);
        if (whiteout !== undefined) {
          if (whiteout.kind === "meta") return;
          const gone =
            whiteout.kind === "opaque" ? dir : dir === "." ? whiteout.name : `${dir}/${whiteout.name}`;
          for (const key of owners.keys())
            if (key.startsWith(`${gone}/`) || (whiteout.kind === "remove" && key === gone))
              owners.delete(key);
          return;
        }
        if (e.uid === 0 && e.gid === 0) owners.delete(rel);
        else owners.set(rel, [e.uid, e.gid]);
      },
      data() {},
      entryEnd() {},
    });
    const compression = sniffCompression(readHead(layer.file, 8));
    for await (const chunk of decompressFile(layer.file, compression)) parser.write(chunk);
    parser.end();
  }
  return owners;
}

/**
 * The owners an image's layers give its files (other than root), kept in the build cache's folder once
 * read (an image's layers never change, and reading them costs a decompression of every layer).
 */
export async function imageOwners(
  cacheDir: string,
  id: string,
  layers: readonly LayerFile[],
): Promise<Map<string, [number, number]>> {
  const file = path.join(cacheDir, `owners-${id}.json`);
  try {
    return new Map(JSON.parse(fs.readFileSync(file, "utf8")) as [string, [number, number]][]);
  } catch {
    // Not read yet (or unreadable): read the layers.
  }
  const owners = await layerOwners(layers);
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  writeFileAtomic(file, JSON.stringify([...owners]));
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

// The user's store: blobs by digest, flattened images by config digest, names pointing at images.
import fs from "node:fs";
import path from "node:path";
import { storePaths, blobPath, digestHex } from "./paths.js";
import type { StorePaths } from "./paths.js";
import os from "node:os";
import { randomHex } from "./random.js";
import { writeFileAtomic, removeTreeAtomic } from "./atomic.js";
import { withLock } from "./lock.js";
import { cachedLayerDigests } from "../builder/cache.js";
import { ImageNotFoundError, InvalidArgumentError, storeFailure } from "../errors.js";

/** A layer as the manifest describes it. */
export interface LayerRecord {
  digest: string;
  size: number;
  mediaType: string;
}

/** What the rootfs held right after flattening, so `verify` can tell a damaged one. */
export interface RootfsSummary {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
}

/** The metadata of a flattened image (`images/<id>/image.json`). */
export interface ImageRecord {
  /** Hex of the config digest. */
  id: string;
  configDigest: string;
  manifestDigest: string;
  manifestMediaType: string;
  indexDigest?: string | undefined;
  layers: LayerRecord[];
  platform: { os: string; architecture: string; variant?: string | undefined };
  /** Where it came from (registry/repository), for `inspect`. */
  source?: string | undefined;
  pulledAt: string;
  rootfs: RootfsSummary;
  /** The config's diff_ids, which every layer matched while it was flattened (absent: flattened unchecked). */
  diffIds?: string[] | undefined;
  /** "squashfs": kept as one SquashFS file (`rootfs.sqfs`, src/store/squashfs.ts); absent: a rootfs/ folder. */
  format?: "squashfs" | undefined;
}

/** A name (`registry/repo:tag` or `registry/repo@digest`) pointing at an image. */
export interface RefRecord {
  name: string;
  image: string;
  manifestDigest?: string | undefined;
  updatedAt: string;
}

/** A store opened at a root; creates its folders on first use. */
export class Store {
  readonly paths: StorePaths;

  constructor(root: string) {
    this.paths = storePaths(root);
  }

  /** Creates the store's folders (owner-only where they hold private things). */
  init(): this {
    try {
      fs.mkdirSync(this.paths.root, { recursive: true, mode: 0o700 });
      for (const d of [
        this.paths.blobs,
        this.paths.images,
        this.paths.refs,
        this.paths.locks,
        this.paths.tmp,
      ]) {
        fs.mkdirSync(d, { recursive: true, mode: 0o755 });
      }
    } catch (err) {
      throw storeFailure(`cannot create the store at ${this.paths.root}`, err);
    }
    return this;
  }

  /** Path of a blob, whether or not it is there. */
  blobPath(digest: string): string {
    return blobPath(this.paths, digest);
  }

  /** Whether a blob is in the store. */
  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  /** Stores a small blob (manifest, config) that has already been verified. */
  putBlob(digest: string, data: Buffer): void {
    const file = this.blobPath(digest);
    if (!fs.existsSync(file)) writeFileAtomic(file, data);
  }

  /** Reads a blob, or undefined when missing. */
  readBlob(digest: string): Buffer | undefined {
    try {
      return fs.readFileSync(this.blobPath(digest));
    } catch {
      return undefined;
    }
  }

  /** The folder of an image. */
  imageDir(id: string): string {
    return path.join(this.paths.images, id);
  }

  /** The flattened root filesystem of an image. */
  rootfs(id: string): string {
    return path.join(this.imageDir(id), "rootfs");
  }

  /** An image's record, or undefined when it is not (completely) in the store. */
  readImage(id: string): ImageRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.imageDir(id), "image.json"), "utf8")) as ImageRecord;
    } catch {
      return undefined;
    }
  }

  /** Every complete image (temporary and half-written ones are never listed). */
  listImages(): ImageRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.paths.images);
    } catch {
      return [];
    }
    return names
      .filter((n) => /^[a-f0-9]{64}$/.test(n))
      .map((n) => this.readImage(n))
      .filter((r): r is ImageRecord => r !== undefined);
  }

  /** Publishes a finished image folder (built in `tmpDir`) under its id; false if another process won. */
  publishImage(tmpDir: string, record: ImageRecord): boolean {
    writeFileAtomic(path.join(tmpDir, "image.json"), JSON.stringify(record, null, 2) + "\n");
    try {
      fs.renameSync(tmpDir, this.imageDir(record.id));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        removeTreeAtomic(tmpDir);
        return false;
      }
      throw err;
    }
  }

  /** The file of a name. */
  private refFile(name: string): string {
    return path.join(this.paths.refs, encodeURIComponent(name));
  }

  /** Points `name` at an image. */
  setRef(name: string, image: string, manifestDigest?: string): void {
    const rec: RefRecord = { name, image, manifestDigest, updatedAt: new Date().toISOString() };
    writeFileAtomic(this.refFile(name), JSON.stringify(rec) + "\n");
  }

  /** The record of a name, or undefined. */
  getRef(name: string): RefRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.refFile(name), "utf8")) as RefRecord;
    } catch {
      return undefined;
    }
  }

  /** Removes a name; false when it did not exist. */
  removeRef(name: string): boolean {
    try {
      fs.unlinkSync(this.refFile(name));
      return true;
    } catch {
      return false;
    }
  }

  /** Every name in the store. */
  listRefs(): RefRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.paths.refs);
    } catch {
      return [];
    }
    const out: RefRecord[] = [];
    for (const n of names) {
      if (n.startsWith(".")) continue;
      const rec = this.getRef(decodeURIComponent(n));
      if (rec) out.push(rec);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Finds an image by a (normalised) name, a full or short id, or `sha256:<id>`. */
  findImage(normalizedName: string | undefined, raw: string): { image: ImageRecord; ref?: RefRecord } {
    if (normalizedName !== undefined) {
      const ref = this.getRef(normalizedName);
      if (ref) {
        const image = this.readImage(ref.image);
        if (image) return { image, ref };
      }
    }
    const idish = raw.startsWith("sha256:") ? raw.slice(7) : raw;
    if (/^[a-f0-9]{4,64}$/.test(idish)) {
      const matches = this.listImages().filter((i) => i.id.startsWith(idish));
      if (matches.length === 1) return { image: matches[0]! };
      if (matches.length > 1) {
        throw new InvalidArgumentError(`image id prefix "${idish}" is ambiguous: give more characters`);
      }
    }
    throw new ImageNotFoundError(
      `no image "${raw}" in the store: run 'burrow images' to list them or 'burrow pull ${raw}'`,
    );
  }

  /** Removes an image's folder and then the blobs no remaining image needs. */
  async removeImage(id: string): Promise<string[]> {
    removeTreeAtomic(this.imageDir(id));
    return this.collectBlobs();
  }

  /**
   * Records that this process is about to use these blobs, so a concurrent `rmi` does not collect them
   * between our check and our use. Taken under the same lock as collection.
   */
  async claimBlobs(digests: string[]): Promise<{ release(): void }> {
    const file = path.join(this.paths.tmp, `claim-${os.hostname()}-${process.pid}-${randomHex(4)}.json`);
    await withLock(this.paths.locks, "gc", async () => {
      writeFileAtomic(
        file,
        JSON.stringify({ host: os.hostname(), pid: process.pid, at: Date.now(), digests }),
      );
    });
    return { release: () => fs.rmSync(file, { force: true }) };
  }

  /** The hex digests of blobs live pulls, loads and saves have claimed (src/store/holds.ts). */
  claimedDigests(): Set<string> {
    return this.claimedBlobs();
  }

  /** Blobs claimed by live pulls (claims of dead processes on this host, or older than a day, are dropped). */
  private claimedBlobs(): Set<string> {
    const out = new Set<string>();
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.paths.tmp).filter((n) => n.startsWith("claim-"));
    } catch {
      return out;
    }
    for (const n of names) {
      const file = path.join(this.paths.tmp, n);
      try {
        const c = JSON.parse(fs.readFileSync(file, "utf8")) as {
          host: string;
          pid: number;
          at: number;
          digests: string[];
        };
        let alive = Date.now() - c.at < 86_400_000;
        if (alive && c.host === os.hostname()) {
          try {
            process.kill(c.pid, 0);
          } catch (err) {
            alive = (err as NodeJS.ErrnoException).code === "EPERM";
          }
        }
        if (!alive) {
          fs.rmSync(file, { force: true });
          continue;
        }
        for (const d of c.digests) out.add(digestHex(d));
      } catch {
        // A claim being written right now, or garbage: ignore.
      }
    }
    return out;
  }

  /**
   * Deletes blobs that no complete image and no running pull references (layers, config, manifest, index);
   * with `only`, just those of these digests (what a refused pull fetched).
   */
  async collectBlobs(only?: string[]): Promise<string[]> {
    return withLock(this.paths.locks, "gc", async () => this.collectBlobsLocked(only));
  }

  private collectBlobsLocked(only?: string[]): string[] {
    const keep = this.claimedBlobs();
    for (const img of this.listImages()) {
      keep.add(digestHex(img.configDigest));
      keep.add(digestHex(img.manifestDigest));
      if (img.indexDigest) keep.add(digestHex(img.indexDigest));
      for (const l of img.layers) keep.add(digestHex(l.digest));
    }
    // The build cache's layers stay until the cache is pruned (src/builder/cache.ts).
    for (const d of cachedLayerDigests(this.paths.buildCache)) keep.add(digestHex(d));
    const removed: string[] = [];
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.paths.blobs);
    } catch {
      return removed;
    }
    if (only !== undefined) {
      const wanted = new Set(only.map(digestHex));
      names = names.filter((n) => wanted.has(n));
    }
    for (const n of names) {
      if (!/^[a-f0-9]{64}$/.test(n) || keep.has(n)) continue;
      fs.rmSync(path.join(this.paths.blobs, n), { force: true });
      removed.push(`sha256:${n}`);
    }
    return removed;
  }
}

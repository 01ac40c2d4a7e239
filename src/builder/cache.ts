// The build cache: what each build step produced, by a key that chains the step's parent, its instruction
// (as the variables it sees resolve it) and, for COPY and ADD, its sources' content. A record holds the
// step's history entry (with its time, so that an unchanged rebuild makes the same config and image id)
// and its layer, a blob in the store like a pulled one; `rmi`'s blob collection keeps cached layers.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { writeFileAtomic } from "../store/atomic.js";

/** One step's history entry, as the image config records it. */
export interface HistoryEntry {
  created: string;
  created_by: string;
  comment?: string;
  empty_layer?: boolean;
}

/** A layer blob in the store, with its uncompressed digest. */
export interface CachedLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

/** What one step produced. */
export interface CacheRecord {
  history: HistoryEntry;
  layer?: CachedLayer;
}

/** The key of a step: its parent's key and what the step is, hashed. */
export function stepKey(parent: string, ...parts: string[]): string {
  const h = createHash("sha256").update(parent);
  for (const p of parts) h.update("\0").update(p);
  return h.digest("hex");
}

/** The build cache of a store (its `build-cache/` folder). */
export class BuildCache {
  constructor(
    private readonly dir: string,
    private readonly hasBlob: (digest: string) => boolean,
  ) {}

  /** The record of `key`, unless missing, unreadable, or its layer blob is gone. */
  get(key: string): CacheRecord | undefined {
    let record: CacheRecord;
    try {
      record = JSON.parse(fs.readFileSync(path.join(this.dir, `${key}.json`), "utf8")) as CacheRecord;
    } catch {
      return undefined;
    }
    if (typeof record?.history?.created_by !== "string") return undefined;
    if (record.layer !== undefined && !this.hasBlob(record.layer.digest)) return undefined;
    return record;
  }

  /** Records what step `key` produced (its layer blob already in the store). */
  put(key: string, record: CacheRecord): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    writeFileAtomic(path.join(this.dir, `${key}.json`), JSON.stringify(record) + "\n");
  }
}

/** The layer digests the cache in `dir` refers to (kept by blob collection). */
export function cachedLayerDigests(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^[a-f0-9]{64}\.json$/.test(n));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    try {
      const record = JSON.parse(fs.readFileSync(path.join(dir, n), "utf8")) as CacheRecord;
      if (typeof record.layer?.digest === "string") out.push(record.layer.digest);
    } catch {
      // Being written, or garbage: it refers to nothing.
    }
  }
  return out;
}

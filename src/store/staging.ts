// Where pull, load and import build an image before it is published: a folder in images/ and scratch
// files in tmp/, each named with this host and pid, so that the next pull, load or import removes what a
// killed one left (sweepStaging), and registered while in use, so that an interrupt removes them at once.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomHex } from "./random.js";
import { removeTreeAtomic } from "./atomic.js";
import { removeAbandoned } from "./abandoned.js";
import type { ImageRecord, Store } from "./store.js";

/** The folders and files this process is building with, removed if it is interrupted (src/cli/interrupt.ts). */
export const inFlight = new Set<string>();

/**
 * The scratch kinds kept in tmp/: a load's folder of archive members, an import's staged tarball, and the
 * tar files of `export --clone` and `import --clone`, and a build's work folder.
 */
export type ScratchKind = "load" | "import-blob" | "clone-export" | "clone-import" | "build";

/** `HOST-PID-HEX`: who made a staged entry, read back by the sweep. */
function maker(): string {
  return `${os.hostname()}-${process.pid}-${randomHex(4)}`;
}

/** An image folder being built: `rootfs` is filled, then it is published whole, or discarded. */
export class StagedImage {
  /** The folder, `images/.tmp-ID12-HOST-PID-HEX`. */
  readonly dir: string;
  /** Its rootfs/, created empty. */
  readonly rootfs: string;

  constructor(
    private readonly store: Store,
    id: string,
  ) {
    this.dir = path.join(store.paths.images, `.tmp-${id.slice(0, 12)}-${maker()}`);
    this.rootfs = path.join(this.dir, "rootfs");
    inFlight.add(this.dir);
    try {
      fs.mkdirSync(this.rootfs, { recursive: true });
    } catch (err) {
      this.discard();
      throw err;
    }
  }

  /**
   * Publishes it as the image `record` describes (src/store/store.ts, publishImage); false when another
   * process published this id first, and this copy is gone.
   */
  publish(record: ImageRecord): boolean {
    const published = this.store.publishImage(this.dir, record);
    inFlight.delete(this.dir);
    return published;
  }

  /** Removes it unless it was published (best effort: what is left goes with the next sweep). */
  discard(): void {
    if (!inFlight.has(this.dir)) return;
    try {
      removeTreeAtomic(this.dir);
    } catch {
      // Left for sweepStaging.
    }
    inFlight.delete(this.dir);
  }
}

/** A new name in the store's tmp/ for scratch work of `kind` (`tmp/KIND-HOST-PID-HEX[SUFFIX]`), registered. */
export function scratchPath(
  store: Store,
  kind: ScratchKind,
  suffix: "" | ".tar" | "-rootfs.tar" = "",
): string {
  const p = path.join(store.paths.tmp, `${kind}-${maker()}${suffix}`);
  inFlight.add(p);
  return p;
}

/** Removes scratch `p` (a file or a folder) and forgets it. */
export function removeScratch(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
  inFlight.delete(p);
}

/**
 * What the sweep removes: image folders in images/ and scratch in tmp/ (group 1 the host, 2 the pid),
 * also as the grave (`.NAME.rm-HEX`) that removeTreeAtomic renames an entry to before removing it.
 */
const ABANDONED: readonly { where: "images" | "tmp"; pattern: RegExp }[] = [
  { where: "images", pattern: /^\.?\.tmp-[a-f0-9]{12}-(.+)-(\d+)-[a-f0-9]{8}(?:\.rm-[a-f0-9]{12})?$/ },
  { where: "tmp", pattern: /^\.?(?:load|import-blob)-(.+)-(\d+)-[a-f0-9]{8}(?:\.rm-[a-f0-9]{12})?$/ },
  { where: "tmp", pattern: /^clone-(?:export|import)-(.+)-(\d+)-[a-f0-9]{8}(?:-rootfs)?\.tar$/ },
  // A build's work folder (src/builder/build.ts).
  { where: "tmp", pattern: /^\.?build-(.+)-(\d+)-[a-f0-9]{8}(?:\.rm-[a-f0-9]{12})?$/ },
];

/**
 * Removes what pulls, loads, imports and clone exports of this host whose process is gone left in the
 * store (image folders, scratch files and folders, half-removed graves); other hosts' entries stay.
 */
export function sweepStaging(store: Store): void {
  for (const { where, pattern } of ABANDONED) removeAbandoned(store.paths[where], pattern, removeTreeAtomic);
}
